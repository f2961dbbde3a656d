"""The false-hit bound judged on pairs it never saw: cross-fitting, as :mod:`~inferopt.cache.semantic.calibrate`.

For each split seed the pairs are cut into ``folds`` parts; for each part in turn, a scorer is
fitted on the other parts, which it also scores out-of-fold (inner folds), and the bound's rule
(:func:`~inferopt.cache.semantic.bound.choose_threshold`) picks a threshold from those
out-of-fold scores alone, for each bound. The held-out part, scored by the scorer fitted on all the
training parts, is accepted at that threshold. Pooled over the parts, every pair is held out once:
the realised false-hit rate (wrong accepted / accepted) and recall (correct accepted / correct) are
what a cache fitted on the other pairs would have served.

The scorer is pluggable (:class:`PairScorer`): the trees verifier
(:func:`trees_scorer`) by default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferopt.cache.semantic.bound import DEFAULT_CONFIDENCE, choose_threshold
from inferopt.cache.semantic.calibrate import fit_out_of_fold
from inferopt.cache.semantic.pairs import PairSet, folds_of

Rows = npt.NDArray[np.int_]
Scores = npt.NDArray[np.float64]
# (pairs, training rows, held-out rows, seed) -> (out-of-fold scores of the training rows, held-out scores)
PairScorer = Callable[[PairSet, Rows, Rows, int], tuple[Scores, Scores]]


def trees_scorer(embedder: str, inner_folds: int = 4) -> PairScorer:
    """The cache's verifier (boosted trees over pair features, a guard's veto scoring 0)."""

    def score(data: PairSet, train: Rows, test: Rows, seed: int) -> tuple[Scores, Scores]:
        verifier, oof, features = fit_out_of_fold(data, train, embedder=embedder, inner_folds=inner_folds, seed=seed)
        held_out = np.where(data.vetoed[test], 0.0, verifier.score_features(features[test]))
        return oof, held_out

    return score


@dataclass(frozen=True)
class BoundResult:
    """One (seed, bound) on the held-out pairs, pooled over the folds."""

    seed: int
    max_rate: float
    confidence: float
    thresholds: tuple[float, ...]  # per fold
    accepted: int
    wrong: int
    recall: float
    fold_rates: tuple[float, ...]  # realised false-hit rate per fold
    # The most recall any threshold reaches at a false-hit rate <= max_rate on the seed's held-out
    # scores, read off their labels (so no rule could choose it): what the scores allow.
    curve_recall: float = 0.0

    @property
    def realised(self) -> float:
        return self.wrong / self.accepted if self.accepted else 0.0


def curve_recall(scores: Scores, labels: npt.NDArray[np.int_], max_rate: float, *, least: int = 20) -> float:
    """The most recall at a false-hit rate <= ``max_rate`` (accepting at least ``least`` pairs), read off the labels."""
    order = np.argsort(-scores, kind="stable")
    ranked, correct = scores[order], labels[order] == 1
    accepted = np.arange(1, len(order) + 1)
    wrong = np.cumsum(~correct)
    last_of_ties = np.append(ranked[1:] < ranked[:-1], True)
    ok = np.nonzero(last_of_ties & (wrong <= max_rate * accepted) & (accepted >= least))[0]
    positives = int(correct.sum())
    if len(ok) == 0 or positives == 0:
        return 0.0
    best = int(ok[-1])
    return float((accepted[best] - wrong[best]) / positives)


def held_out_bound(
    data: PairSet,
    scorer: PairScorer,
    rates: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    folds: int = 5,
    seeds: Sequence[int] = (0,),
    log: Callable[[str], None] | None = None,
) -> list[BoundResult]:
    """The bound at each of ``rates``, judged on held-out pairs (module docstring); one row per (seed, rate)."""
    n, labels = len(data.pairs), data.labels
    positives = int(np.sum(labels == 1))
    results = []
    for seed in seeds:
        accepted = {rate: np.zeros(n, dtype=bool) for rate in rates}
        thresholds: dict[float, list[float]] = {rate: [] for rate in rates}
        fold_rates: dict[float, list[float]] = {rate: [] for rate in rates}
        pooled = np.zeros(n)
        for k, test in enumerate(folds_of(n, folds, seed)):
            train = np.setdiff1d(np.arange(n), test)
            oof, held_out = scorer(data, train, test, seed)
            pooled[test] = held_out
            for rate in rates:
                choice = choose_threshold(oof, labels[train], rate, confidence=confidence)
                taken = held_out >= choice.threshold
                accepted[rate][test] = taken
                thresholds[rate].append(choice.threshold)
                wrong = int(np.sum(taken & (labels[test] == 0)))
                fold_rates[rate].append(wrong / int(taken.sum()) if taken.any() else 0.0)
            if log is not None:
                shown = ", ".join(
                    f"{rate}: {int(accepted[rate][test].sum())} accepted, rate {fold_rates[rate][-1]:.4f}"
                    for rate in rates
                )
                log(f"seed {seed}, fold {k + 1}/{folds}: {shown}")
        for rate in rates:
            taken = accepted[rate]
            wrong = int(np.sum(taken & (labels == 0)))
            correct = int(np.sum(taken & (labels == 1)))
            results.append(
                BoundResult(
                    seed,
                    rate,
                    confidence,
                    tuple(thresholds[rate]),
                    int(taken.sum()),
                    wrong,
                    correct / positives if positives else 0.0,
                    tuple(fold_rates[rate]),
                    curve_recall(pooled, labels, rate),
                )
            )
    return results


def bound_table(results: Sequence[BoundResult]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| bound | confidence | seed | realised false-hit rate | per fold | accepted | wrong | recall "
        "| the scores' curve: most recall at the bound |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        per_fold = " ".join(f"{x:.3f}" for x in r.fold_rates)
        lines.append(
            f"| {r.max_rate:.2f} | {r.confidence:.2f} | {r.seed} | {r.realised:.4f} | {per_fold} | "
            f"{r.accepted} | {r.wrong} | {r.recall:.3f} | {r.curve_recall:.3f} |"
        )
    return "\n".join(lines)
