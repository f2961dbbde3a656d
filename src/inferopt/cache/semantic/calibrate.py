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
- ``verifier+guards``: the learned verifier's score with the guards' vetoes (what the cache uses).

The calibration that is saved is fitted the same way on *all* the pairs (verifier on all, threshold
by inner cross-validation over all).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferopt.cache.semantic.embedder import Embedder, Vectors, embedder_from_name
from inferopt.cache.semantic.features import idf_table
from inferopt.cache.semantic.guards import guard_reason
from inferopt.cache.semantic.verifier import Verifier, feature_matrix, fit_verifier
from inferopt.errors import ConfigError

Pair = tuple[str, str, int]
MIN_PREDICTED = 20  # a threshold must accept at least this many tuning pairs to be trusted
METHODS = ("cosine", "cosine+guards", "verifier+guards")


@dataclass
class Calibration:
    """What the semantic cache needs: the embedder's name, the threshold and the verifier (or None: cosine)."""

    embedder: str
    threshold: float
    verifier: Verifier | None = None
    target_precision: float = 0.9
    measured: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        data = {
            "embedder": self.embedder,
            "threshold": self.threshold,
            "target_precision": self.target_precision,
            "verifier": None if self.verifier is None else self.verifier.to_json(),
            "measured": self.measured,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        try:
            data = json.loads(Path(path).read_text())
            verifier = None if data.get("verifier") is None else Verifier.from_json(data["verifier"])
            return cls(
                data["embedder"],
                float(data["threshold"]),
                verifier,
                float(data["target_precision"]),
                data.get("measured", {}),
            )
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the semantic cache calibration {path}: {exc}; create one with `inferopt cache calibrate`"
            ) from exc


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    precision: float
    recall: float
    accepted: int


def operating_point(scores: npt.NDArray[np.float64], labels: npt.NDArray[np.int_], threshold: float) -> OperatingPoint:
    accepted = scores >= threshold
    true_positive = int(np.sum(accepted & (labels == 1)))
    n_accepted = int(np.sum(accepted))
    positives = int(np.sum(labels == 1))
    precision = true_positive / n_accepted if n_accepted else 1.0
    return OperatingPoint(threshold, precision, true_positive / positives if positives else 0.0, n_accepted)


def threshold_for(scores: npt.NDArray[np.float64], labels: npt.NDArray[np.int_], target: float) -> float:
    """The lowest threshold (most recall) whose precision on these pairs reaches ``target``."""
    order = np.argsort(-scores)
    hits = np.cumsum(labels[order] == 1)
    precision = hits / np.arange(1, len(order) + 1)
    ok = np.nonzero((precision >= target) & (np.arange(1, len(order) + 1) >= MIN_PREDICTED))[0]
    if len(ok) == 0:
        return float("inf")
    return float(scores[order][ok[-1]])


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


def fit_with_threshold(
    data: PairSet, train: npt.NDArray[np.int_], *, embedder: str, target: float, inner_folds: int, seed: int
) -> tuple[Verifier, float, npt.NDArray[np.float64]]:
    """Steps 1-2 of the module docstring on ``train``: (verifier, threshold, features of every pair)."""
    idf = idf_table(text for i in train for text in data.pairs[i][:2])
    features = data.features(idf)
    labels = data.labels
    oof = np.zeros(len(train))
    for inner in folds_of(len(train), inner_folds, seed + 1):
        fit_rows = train[np.setdiff1d(np.arange(len(train)), inner)]
        verifier = fit_verifier(features[fit_rows], labels[fit_rows], embedder=embedder, idf=idf, seed=seed)
        oof[inner] = verifier.score_features(features[train[inner]])
    oof[data.vetoed[train]] = 0.0
    threshold = threshold_for(oof, labels[train], target)
    return fit_verifier(features[train], labels[train], embedder=embedder, idf=idf, seed=seed), threshold, features


@dataclass
class FoldResult:
    seed: int
    fold: int
    results: dict[str, OperatingPoint]


@dataclass
class CalibrationReport:
    calibration: Calibration
    folds: list[FoldResult]
    pooled: dict[tuple[int, str], OperatingPoint]  # (seed, method) -> all held-out folds together
    n_pairs: int
    n_folds: int
    inner_folds: int

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
        if len(seeds) > 1:
            for name in METHODS:
                (p, p_lo, p_hi), (r, r_lo, r_hi) = self.spread(name, "precision"), self.spread(name, "recall")
                lines.append(
                    f"{name:<17} mean over seeds: precision {p:.3f} ({p_lo:.3f}-{p_hi:.3f}), "
                    f"recall {r:.3f} ({r_lo:.3f}-{r_hi:.3f})"
                )
        threshold = self.calibration.threshold
        lines.append(f"recommended: verifier+guards at threshold {threshold:.4f} (fitted on all pairs)")
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
) -> CalibrationReport:
    """Cross-fit and measure on ``pairs``, then fit the calibration on all of them (see the module docstring)."""
    if vectors is None:
        vectors = embed_texts(embedder, [t for a, b, _ in pairs for t in (a, b)])
    data = PairSet.build(pairs, vectors)
    labels = data.labels
    fold_results: list[FoldResult] = []
    pooled: dict[tuple[int, str], OperatingPoint] = {}
    for seed in seeds:
        accepted = {name: np.zeros(len(pairs), dtype=bool) for name in METHODS}
        for k, test in enumerate(folds_of(len(pairs), folds, seed)):
            train = np.setdiff1d(np.arange(len(pairs)), test)
            verifier, threshold, features = fit_with_threshold(
                data, train, embedder=embedder.name, target=target_precision, inner_folds=inner_folds, seed=seed
            )
            guarded = np.where(data.vetoed, -1.0, data.cosines)
            verified = np.zeros(len(pairs))
            verified[test] = np.where(data.vetoed[test], 0.0, verifier.score_features(features[test]))
            scores = {
                "cosine": (data.cosines, threshold_for(data.cosines[train], labels[train], target_precision)),
                "cosine+guards": (guarded, threshold_for(guarded[train], labels[train], target_precision)),
                "verifier+guards": (verified, threshold),
            }
            results = {}
            for name, (score, cut) in scores.items():
                results[name] = operating_point(score[test], labels[test], cut)
                accepted[name][test] = score[test] >= cut
            fold_results.append(FoldResult(seed, k, results))
        for name in METHODS:
            pooled[(seed, name)] = operating_point(accepted[name].astype(np.float64), labels, 0.5)
    everything = np.arange(len(pairs))
    verifier, threshold, _ = fit_with_threshold(
        data, everything, embedder=embedder.name, target=target_precision, inner_folds=inner_folds, seed=seeds[0]
    )
    measured = {f"{name} seed {seed}": vars(point) for (seed, name), point in pooled.items()}
    calibration = Calibration(embedder.name, threshold, verifier, target_precision, measured)
    return CalibrationReport(calibration, fold_results, pooled, len(pairs), folds, inner_folds)


def calibrate_file(
    path: str | Path,
    *,
    target_precision: float = 0.9,
    embedder: str = "minilm",
    folds: int = 5,
    seeds: Sequence[int] = (0,),
) -> CalibrationReport:
    return calibrate_pairs(
        read_pairs(path),
        embedder_from_name(embedder),
        target_precision=target_precision,
        folds=folds,
        seeds=seeds,
    )
