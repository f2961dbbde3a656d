"""Fitting the re-ranker (cross-encoder + trees + stack) on a training part, without touching anything else.

Cross-fitting a cross-encoder inside every training part (as the trees' threshold is chosen) would
cost several fine-tunes per fold; instead each training part is split once, seeded:

1. the **fitting slice** (``1 - calibration_fraction`` of it): the word-rarity table, the trees and
   the cross-encoder are fitted on it;
2. the **calibration slice**: both models score its pairs (which neither saw), the stack's two
   weights are fitted on them, and the threshold for the target precision is chosen on stacked
   scores that are out-of-fold for the stack too (``inner_folds`` folds of the slice).

The slice is scored by exactly the models that will score new pairs, so its threshold transfers,
but only on average: measured inside one training part (docs/caching.md), the lowest threshold
whose precision on the slice reaches the target lands on unseen pairs at 0.899 on average for a
target of 0.90, give or take 0.03 per fold. The cache promises the target, so the threshold asks
the slice's precision to reach it with :data:`STANDARD_ERRORS` of its binomial standard error to
spare (measured the same way: 0.910 on average, for 14% less recall; on the Quora held-out folds
both landed lower, 0.893 and 0.900 pooled, means of four split seeds: docs/caching.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inferopt.cache.semantic.cross_encoder import FineTuning, fine_tune
from inferopt.cache.semantic.features import idf_table
from inferopt.cache.semantic.pairs import PairSet, folds_of, threshold_for
from inferopt.cache.semantic.rerank import Reranker, fit_stacker, stack_columns
from inferopt.cache.semantic.verifier import PairVerifier, fit_verifier
from inferopt.errors import InvalidArgumentError

Rows = npt.NDArray[np.int_]
STANDARD_ERRORS = 0.5  # the threshold's margin for the calibration slice's sampling error (see above)


@dataclass
class RerankFit:
    """What was fitted on one training part, and the features every pair has under its rarity table.

    Diagnostics, chosen on the same slice: ``alone_threshold``, the cross-encoder's own score's
    threshold (what the stack adds), and ``unmargined_threshold``, the stack's without the margin."""

    verifier: PairVerifier
    reranker: Reranker
    threshold: float
    features: npt.NDArray[np.float64]
    alone_threshold: float
    unmargined_threshold: float

    def scores(self, data: PairSet, rows: Rows) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(stacked probability, cross-encoder log-odds) for ``rows``; where a guard vetoes, 0 and -inf
        (never accepted: the cache does not ask the models about them)."""
        stacked, alone = np.zeros(len(rows)), np.full(len(rows), -np.inf)
        live = np.nonzero(~data.vetoed[rows])[0]
        chosen = rows[live]
        pairs = [(data.pairs[i][0], data.pairs[i][1]) for i in chosen]
        columns = stack_columns(self.reranker.cross_encoder, pairs, self.verifier.score_features(self.features[chosen]))
        stacked[live] = self.reranker.stacker.probability(columns)
        alone[live] = columns[:, 0]
        return stacked, alone


def split_training(train: Rows, calibration_fraction: float, seed: int) -> tuple[Rows, Rows]:
    """(fitting slice, calibration slice) of ``train``, seeded."""
    if not 0.05 <= calibration_fraction <= 0.5:
        raise InvalidArgumentError(f"calibration_fraction must be between 0.05 and 0.5, got {calibration_fraction}")
    order = np.random.default_rng(seed).permutation(train)
    cut = round(len(train) * (1 - calibration_fraction))
    return np.sort(order[:cut]), np.sort(order[cut:])


def fit_reranked(
    data: PairSet,
    train: Rows,
    *,
    embedder: str,
    target: float,
    options: FineTuning,
    model_dir: Path,
    calibration_fraction: float = 0.2,
    inner_folds: int = 4,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> RerankFit:
    """Steps 1-2 of the module docstring on the pairs ``train``; the cross-encoder is saved in ``model_dir``."""
    fitting, calibration = split_training(train, calibration_fraction, seed + 17)
    labels = data.labels
    idf = idf_table(text for i in fitting for text in data.pairs[i][:2])
    features = data.features(idf)
    verifier = fit_verifier(features[fitting], labels[fitting], embedder=embedder, idf=idf, seed=seed)
    pairs = [(data.pairs[i][0], data.pairs[i][1]) for i in fitting]
    cross_encoder = fine_tune(pairs, labels[fitting].tolist(), model_dir, options, log=log)
    live = calibration[~data.vetoed[calibration]]
    columns = stack_columns(
        cross_encoder, [(data.pairs[i][0], data.pairs[i][1]) for i in live], verifier.score_features(features[live])
    )
    out_of_fold = np.zeros(len(live))
    for inner in folds_of(len(live), inner_folds, seed + 3):
        rest = np.setdiff1d(np.arange(len(live)), inner)
        out_of_fold[inner] = fit_stacker(columns[rest], labels[live[rest]]).probability(columns[inner])
    scores = np.zeros(len(data.pairs))
    scores[live] = out_of_fold  # vetoed calibration pairs keep 0: never accepted, as in the cache
    threshold = threshold_for(scores[calibration], labels[calibration], target, standard_errors=STANDARD_ERRORS)
    unmargined = threshold_for(scores[calibration], labels[calibration], target)
    alone = np.full(len(data.pairs), -np.inf)
    alone[live] = columns[:, 0]
    alone_threshold = threshold_for(alone[calibration], labels[calibration], target, standard_errors=STANDARD_ERRORS)
    reranker = Reranker(cross_encoder, fit_stacker(columns, labels[live]))
    return RerankFit(verifier, reranker, threshold, features, alone_threshold, unmargined)
