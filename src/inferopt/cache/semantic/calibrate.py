"""Calibration: measure precision/recall on labelled pairs and choose a threshold for a target precision.

Honest by construction, by cross-fitting. The pairs are shuffled (seeded) into ``folds`` parts; for
each part in turn, everything is learned on the other parts only and the part is scored once:

1. the word-rarity table and the verifier are fitted on the training parts (all of their pairs:
   those a guard vetoes too, which measured better than leaving them out although the cache never
   asks the verifier about them);
2. the threshold for the target precision is chosen on the training parts by an inner
   ``inner_folds``-fold cross-validation (each training pair scored by a verifier not fitted on it);
3. the held-out part is scored by the verifier of step 1 and accepted at the threshold of step 2.

Every pair is held out exactly once, so the reported precision and recall (per fold, and pooled
over the folds) come from pairs that neither the verifier nor the threshold saw. Three methods are
measured side by side on the same held-out pairs:

- ``cosine``: plain embedding cosine (the common practice), threshold chosen on the training parts;
- ``cosine+guards``: the same with the guards' vetoes;
- ``verifier+guards``: the learned verifier's score with the guards' vetoes (what the cache uses
  without a cross-encoder);
- ``reranker+guards`` (with ``cross_encoder=``): a cross-encoder fine-tuned on the training parts,
  stacked with trees, fitted and thresholded inside the training parts as
  :mod:`inferopt.cache.semantic.calibrate_rerank` describes (what the cache uses with one).

The calibration that is saved is fitted the same way on *all* the pairs (verifier on all, threshold
by inner cross-validation over all; or the re-ranker's slices of all the pairs).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferopt.cache.semantic.calibrate_rerank import RerankFit, fit_reranked
from inferopt.cache.semantic.cross_encoder import FineTuning, require_torch
from inferopt.cache.semantic.embedder import Embedder, embedder_from_name
from inferopt.cache.semantic.features import idf_table
from inferopt.cache.semantic.pairs import (
    Pair,
    PairOperatingPoint,
    PairSet,
    embed_texts,
    folds_of,
    operating_point,
    read_pairs,
    threshold_for,
)
from inferopt.cache.semantic.rerank import Reranker
from inferopt.cache.semantic.verifier import PairVerifier, fit_verifier
from inferopt.errors import ConfigError

METHODS = ("cosine", "cosine+guards", "verifier+guards")
RERANKED = "reranker+guards"
CROSS_ENCODER_ALONE = "cross-enc+guards"  # the re-ranker's cross-encoder without the stack: what stacking adds
UNMARGINED = "rerank no-margin"  # the re-ranker at the threshold without the sampling margin


@dataclass
class Calibration:
    """What the semantic cache needs: the embedder's name, the threshold, the verifier (or None: cosine)
    and the re-ranker (or None: the verifier's score is thresholded).

    ``bound_scores``/``bound_labels``: every labelled pair scored by a verifier not fitted on it
    (out-of-fold), from which a cache with ``max_false_hit_rate`` chooses its threshold
    (:mod:`inferopt.cache.semantic.bound`); None for calibrations with a re-ranker."""

    embedder: str
    threshold: float
    verifier: PairVerifier | None = None
    target_precision: float = 0.9
    measured: dict[str, Any] = field(default_factory=dict)
    reranker: Reranker | None = None
    bound_scores: list[float] | None = None
    bound_labels: list[int] | None = None

    def save(self, path: Path) -> None:
        """Write the JSON file; a re-ranker's model directory is recorded relative to the file's folder."""
        data = {
            "embedder": self.embedder,
            "threshold": self.threshold,
            "target_precision": self.target_precision,
            "verifier": None if self.verifier is None else self.verifier.to_json(),
            "reranker": None if self.reranker is None else self.reranker.to_json(path.parent),
            "measured": self.measured,
            "bound_pairs": None
            if self.bound_scores is None or self.bound_labels is None
            else {"scores": [round(x, 6) for x in self.bound_scores], "labels": self.bound_labels},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        """Read a calibration (and load its cross-encoder, which needs torch, when it has one)."""
        try:
            data = json.loads(Path(path).read_text())
            verifier = None if data.get("verifier") is None else PairVerifier.from_json(data["verifier"])
            reranked = data.get("reranker")
            reranker = None if reranked is None else Reranker.from_json(reranked, Path(path).parent)
            bound = data.get("bound_pairs")
            return cls(
                data["embedder"],
                float(data["threshold"]),
                verifier,
                float(data["target_precision"]),
                data.get("measured", {}),
                reranker,
                None if bound is None else [float(x) for x in bound["scores"]],
                None if bound is None else [int(x) for x in bound["labels"]],
            )
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the semantic cache calibration {path}: {exc}; create one with `inferopt cache calibrate`"
            ) from exc


def fit_out_of_fold(
    data: PairSet, train: npt.NDArray[np.int_], *, embedder: str, inner_folds: int, seed: int
) -> tuple[PairVerifier, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Step 1 of the module docstring on ``train``, and each training pair scored by a verifier not
    fitted on it (``inner_folds``-fold; a guard's veto scores 0): (verifier, out-of-fold scores,
    features of every pair)."""
    idf = idf_table(text for i in train for text in data.pairs[i][:2])
    features = data.features(idf)
    labels = data.labels
    oof = np.zeros(len(train))
    for inner in folds_of(len(train), inner_folds, seed + 1):
        fit_rows = train[np.setdiff1d(np.arange(len(train)), inner)]
        verifier = fit_verifier(features[fit_rows], labels[fit_rows], embedder=embedder, idf=idf, seed=seed)
        oof[inner] = verifier.score_features(features[train[inner]])
    oof[data.vetoed[train]] = 0.0
    verifier = fit_verifier(features[train], labels[train], embedder=embedder, idf=idf, seed=seed)
    return verifier, oof, features


def fit_with_threshold(
    data: PairSet, train: npt.NDArray[np.int_], *, embedder: str, target: float, inner_folds: int, seed: int
) -> tuple[PairVerifier, float, npt.NDArray[np.float64]]:
    """Steps 1-2 of the module docstring on ``train``: (verifier, threshold, features of every pair)."""
    verifier, oof, features = fit_out_of_fold(data, train, embedder=embedder, inner_folds=inner_folds, seed=seed)
    return verifier, threshold_for(oof, data.labels[train], target), features


@dataclass
class FoldResult:
    seed: int
    fold: int
    results: dict[str, PairOperatingPoint]


@dataclass(frozen=True)
class Reranking:
    """Fine-tune a cross-encoder and stack it with the trees: ``calibrate_pairs(reranking=...)``.

    ``model_dir``: where the saved calibration's cross-encoder goes (the calibration file refers to
    it); ``work_dir``: where the cross-fitted folds' models go (a temporary directory by default;
    a kept one makes a rerun on the same pairs reuse them)."""

    model_dir: Path
    fine_tuning: FineTuning = field(default_factory=FineTuning)
    work_dir: Path | None = None
    calibration_fraction: float = 0.2


@dataclass
class CalibrationReport:
    calibration: Calibration
    folds: list[FoldResult]
    pooled: dict[tuple[int, str], PairOperatingPoint]  # (seed, method) -> all held-out folds together
    n_pairs: int
    n_folds: int
    inner_folds: int
    # (seed, method) -> the most recall at the target precision on the held-out scores of every fold
    # together: the quality of the scores themselves (the read-off needs the held-out labels, so no
    # method could choose this threshold; ``pooled`` is what its own threshold gives). The re-ranker
    # without margin has no row: its scores are the re-ranker's.
    curve: dict[tuple[int, str], PairOperatingPoint] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(name for _, name in self.pooled))

    def spread(self, method: str, attribute: str) -> tuple[float, float, float]:
        """Mean, min and max of a pooled figure over the seeds."""
        values = [getattr(point, attribute) for (_, m), point in self.pooled.items() if m == method]
        return float(np.mean(values)), min(values), max(values)

    def summary(self) -> str:
        seeds = sorted({seed for seed, _ in self.pooled})
        lines = [
            f"{self.n_pairs} pairs, {self.n_folds}-fold cross-fitting (verifier fitted on {self.n_folds - 1} folds, "
            f"threshold by {self.inner_folds}-fold inner validation on those), split seeds {seeds}: "
            "every figure is on held-out pairs only",
            f"target precision {self.calibration.target_precision:.2f}, embedder {self.calibration.embedder}",
            f"{'method':<17}{'seed':>5}{'fold':>6}{'threshold':>11}{'precision':>11}{'recall':>8}{'accepted':>10}",
        ]
        for result in self.folds:
            for name, point in result.results.items():
                lines.append(
                    f"{name:<17}{result.seed:>5}{result.fold:>6}{point.threshold:>11.4f}"
                    f"{point.precision:>11.3f}{point.recall:>8.3f}{point.accepted:>10}"
                )
        lines.append("pooled over the held-out folds:")
        for (seed, name), point in sorted(self.pooled.items()):
            lines.append(
                f"{name:<17}{seed:>5}{'all':>6}{'':>11}{point.precision:>11.3f}{point.recall:>8.3f}{point.accepted:>10}"
            )
        lines.append("the held-out scores' own curve: the most recall at the target precision, read off the labels:")
        for (seed, name), point in sorted(self.curve.items()):
            lines.append(
                f"{name:<17}{seed:>5}{'all':>6}{'':>11}{point.precision:>11.3f}{point.recall:>8.3f}{point.accepted:>10}"
            )
        if len(seeds) > 1:
            for name in self.methods:
                (p, p_lo, p_hi), (r, r_lo, r_hi) = self.spread(name, "precision"), self.spread(name, "recall")
                lines.append(
                    f"{name:<17} mean over seeds: precision {p:.3f} ({p_lo:.3f}-{p_hi:.3f}), "
                    f"recall {r:.3f} ({r_lo:.3f}-{r_hi:.3f})"
                )
        calibration = self.calibration
        if calibration.reranker is None:
            lines.append(f"recommended: verifier+guards at threshold {calibration.threshold:.4f} (fitted on all pairs)")
        else:
            lines.append(
                f"recommended: {RERANKED} at threshold {calibration.threshold:.4f} (fitted on all pairs; "
                f"cross-encoder in {calibration.reranker.cross_encoder.path})"
            )
        return "\n".join(lines)


def calibrate_pairs(
    pairs: Sequence[Pair],
    embedder: Embedder,
    *,
    target_precision: float = 0.9,
    folds: int = 5,
    inner_folds: int = 4,
    seeds: Sequence[int] = (0,),
    vectors: dict[str, npt.NDArray[np.float32]] | None = None,
    reranking: Reranking | None = None,
    log: Callable[[str], None] | None = None,
) -> CalibrationReport:
    """Cross-fit and measure on ``pairs``, then fit the calibration on all of them (see the module docstring).

    With ``reranking``, every fold also fine-tunes a cross-encoder (minutes each on a CPU)."""
    if reranking is not None:
        require_torch()  # fail before minutes of work, not after
    if vectors is None:
        vectors = embed_texts(embedder, [t for a, b, _ in pairs for t in (a, b)])
    data = PairSet.build(pairs, vectors)
    with tempfile.TemporaryDirectory(prefix="inferopt-calibrate-") as scratch:
        work_dir = Path(scratch) if reranking is None or reranking.work_dir is None else reranking.work_dir
        fold_results, pooled, curve = _cross_fit(
            data, embedder.name, target_precision, folds, inner_folds, seeds, reranking, work_dir, log
        )
    everything = np.arange(len(pairs))
    measured = {f"{name} seed {seed}": vars(point) for (seed, name), point in pooled.items()}
    if reranking is None:
        verifier, oof, _ = fit_out_of_fold(
            data, everything, embedder=embedder.name, inner_folds=inner_folds, seed=seeds[0]
        )
        threshold = threshold_for(oof, data.labels, target_precision)
        calibration = Calibration(
            embedder.name, threshold, verifier, target_precision, measured, None, oof.tolist(), data.labels.tolist()
        )
    else:
        if log is not None:
            log(f"fitting the calibration on all {len(pairs)} pairs")
        fit = _fit_reranked(
            data, everything, embedder.name, target_precision, reranking, reranking.model_dir, seeds[0], log
        )
        calibration = Calibration(embedder.name, fit.threshold, fit.verifier, target_precision, measured, fit.reranker)
    return CalibrationReport(calibration, fold_results, pooled, len(pairs), folds, inner_folds, curve)


def _fit_reranked(
    data: PairSet,
    train: npt.NDArray[np.int_],
    embedder: str,
    target: float,
    reranking: Reranking,
    model_dir: Path,
    seed: int,
    log: Callable[[str], None] | None,
) -> RerankFit:
    return fit_reranked(
        data,
        train,
        embedder=embedder,
        target=target,
        options=reranking.fine_tuning,
        model_dir=model_dir,
        calibration_fraction=reranking.calibration_fraction,
        seed=seed,
        log=log,
    )


def _cross_fit(
    data: PairSet,
    embedder: str,
    target: float,
    folds: int,
    inner_folds: int,
    seeds: Sequence[int],
    reranking: Reranking | None,
    work_dir: Path,
    log: Callable[[str], None] | None,
) -> tuple[list[FoldResult], dict[tuple[int, str], PairOperatingPoint], dict[tuple[int, str], PairOperatingPoint]]:
    """Every method on every held-out fold of every split seed: (per fold, pooled per seed, curve per seed)."""
    n, labels = len(data.pairs), data.labels
    methods = [*METHODS, *([CROSS_ENCODER_ALONE, UNMARGINED, RERANKED] if reranking is not None else [])]
    fold_results: list[FoldResult] = []
    pooled: dict[tuple[int, str], PairOperatingPoint] = {}
    curve: dict[tuple[int, str], PairOperatingPoint] = {}
    for seed in seeds:
        accepted = {name: np.zeros(n, dtype=bool) for name in methods}
        held_out = {name: np.zeros(n) for name in methods}
        for k, test in enumerate(folds_of(n, folds, seed)):
            train = np.setdiff1d(np.arange(n), test)
            verifier, threshold, features = fit_with_threshold(
                data, train, embedder=embedder, target=target, inner_folds=inner_folds, seed=seed
            )
            guarded = np.where(data.vetoed, -1.0, data.cosines)
            verified = np.zeros(n)
            verified[test] = np.where(data.vetoed[test], 0.0, verifier.score_features(features[test]))
            scores = {
                "cosine": (data.cosines, threshold_for(data.cosines[train], labels[train], target)),
                "cosine+guards": (guarded, threshold_for(guarded[train], labels[train], target)),
                "verifier+guards": (verified, threshold),
            }
            if reranking is not None:
                if log is not None:
                    log(f"seed {seed}, fold {k + 1}/{folds}: fitting the re-ranker on {len(train)} pairs")
                fit = _fit_reranked(
                    data, train, embedder, target, reranking, work_dir / f"seed{seed}-fold{k}", seed, log
                )
                reranked, alone = np.zeros(n), np.full(n, -np.inf)
                reranked[test], alone[test] = fit.scores(data, test)
                scores[CROSS_ENCODER_ALONE] = (alone, fit.alone_threshold)
                scores[UNMARGINED] = (reranked, fit.unmargined_threshold)
                scores[RERANKED] = (reranked, fit.threshold)
            results = {}
            for name, (score, cut) in scores.items():
                results[name] = operating_point(score[test], labels[test], cut)
                accepted[name][test] = score[test] >= cut
                held_out[name][test] = score[test]
            fold_results.append(FoldResult(seed, k, results))
            if log is not None:
                shown = ", ".join(f"{name} {p.precision:.3f}/{p.recall:.3f}" for name, p in results.items())
                log(f"seed {seed}, fold {k + 1}/{folds} held out, precision/recall: {shown}")
        for name in methods:
            pooled[(seed, name)] = operating_point(accepted[name].astype(np.float64), labels, 0.5)
            if name != UNMARGINED:  # the re-ranker's scores, only its threshold differs: the same curve
                scores_of = held_out[name]
                curve[(seed, name)] = operating_point(scores_of, labels, threshold_for(scores_of, labels, target))
    return fold_results, pooled, curve


def calibrate_file(
    path: str | Path,
    *,
    target_precision: float = 0.9,
    embedder: str = "minilm",
    folds: int = 5,
    seeds: Sequence[int] = (0,),
    reranking: Reranking | None = None,
    log: Callable[[str], None] | None = None,
) -> CalibrationReport:
    return calibrate_pairs(
        read_pairs(path),
        embedder_from_name(embedder),
        target_precision=target_precision,
        folds=folds,
        seeds=seeds,
        reranking=reranking,
        log=log,
    )
