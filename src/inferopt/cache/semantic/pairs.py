"""Labelled question pairs and what every calibration method needs from them.

A pair file is a CSV with ``question1,question2,is_duplicate`` (the Quora pairs format).
:class:`PairSet` holds, per pair, the embedding cosine, whether a guard vetoes it and the label;
:func:`folds_of` splits pairs for cross-fitting; :func:`threshold_for` chooses the threshold that
reaches a target precision and :func:`operating_point` measures one.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inferopt.cache.semantic.embedder import Embedder, Vectors
from inferopt.cache.semantic.guards import guard_reason
from inferopt.cache.semantic.verifier import feature_matrix
from inferopt.errors import ConfigError

Pair = tuple[str, str, int]
MIN_PREDICTED = 20  # a threshold must accept at least this many tuning pairs to be trusted


@dataclass(frozen=True)
class PairOperatingPoint:
    threshold: float
    precision: float
    recall: float
    accepted: int


def operating_point(
    scores: npt.NDArray[np.float64], labels: npt.NDArray[np.int_], threshold: float
) -> PairOperatingPoint:
    accepted = scores >= threshold
    true_positive = int(np.sum(accepted & (labels == 1)))
    n_accepted = int(np.sum(accepted))
    positives = int(np.sum(labels == 1))
    precision = true_positive / n_accepted if n_accepted else 1.0
    return PairOperatingPoint(threshold, precision, true_positive / positives if positives else 0.0, n_accepted)


def threshold_for(
    scores: npt.NDArray[np.float64], labels: npt.NDArray[np.int_], target: float, *, standard_errors: float = 0.0
) -> float:
    """The lowest threshold (most recall) whose precision on these pairs reaches ``target``.

    With ``standard_errors`` > 0, the precision must reach it after subtracting that many of its
    binomial standard errors (a margin for the sampling error of the pairs it is chosen on).
    Only the last of equal scores can be the cut: ``score >= threshold`` accepts all of them."""
    order = np.argsort(-scores)
    ranked = scores[order]
    accepted = np.arange(1, len(order) + 1)
    hits = np.cumsum(labels[order] == 1)
    precision = hits / accepted
    margin = standard_errors * np.sqrt(precision * (1 - precision) / accepted)
    last_of_ties = np.append(ranked[1:] < ranked[:-1], True)
    ok = np.nonzero(last_of_ties & (precision - margin >= target) & (accepted >= MIN_PREDICTED))[0]
    if len(ok) == 0:
        return float("inf")
    return float(ranked[ok[-1]])


def read_pairs(path: str | Path) -> list[Pair]:
    """A CSV with ``question1,question2,is_duplicate`` (the Quora pairs format)."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"question1", "question2", "is_duplicate"} - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{path}: missing column(s) {sorted(missing)}; expected question1,question2,is_duplicate")
        return [(r["question1"], r["question2"], int(r["is_duplicate"])) for r in reader]


def embed_texts(embedder: Embedder, texts: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
    unique = sorted(set(texts))
    vectors: Vectors = embedder.embed(unique) if unique else np.zeros((0, embedder.dim), dtype=np.float32)
    return dict(zip(unique, vectors, strict=True))


def folds_of(n: int, k: int, seed: int) -> list[npt.NDArray[np.int_]]:
    """``k`` disjoint index sets covering ``range(n)`` (a seeded shuffle)."""
    if k < 2 or k > n:
        raise ConfigError(f"need between 2 and {n} folds, got {k}")
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(order[i::k]) for i in range(k)]


@dataclass
class PairSet:
    """Labelled pairs with what every method needs: cosines, guard vetoes, texts."""

    pairs: Sequence[Pair]
    cosines: npt.NDArray[np.float64]
    vetoed: npt.NDArray[np.bool_]
    labels: npt.NDArray[np.int_]

    @classmethod
    def build(cls, pairs: Sequence[Pair], vectors: dict[str, npt.NDArray[np.float32]]) -> PairSet:
        cosines = np.asarray([float(vectors[a] @ vectors[b]) for a, b, _ in pairs], dtype=np.float64)
        vetoed = np.asarray([guard_reason(a, b) is not None for a, b, _ in pairs], dtype=bool)
        return cls(pairs, cosines, vetoed, np.asarray([label for _, _, label in pairs], dtype=np.int_))

    def features(self, idf: dict[str, float]) -> npt.NDArray[np.float64]:
        return feature_matrix([(a, b) for a, b, _ in self.pairs], self.cosines.tolist(), idf)
