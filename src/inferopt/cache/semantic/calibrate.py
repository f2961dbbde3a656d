"""Calibration: measure precision/recall on labelled pairs and choose a threshold for a target precision.

Honest by construction: the pairs are split once (seeded) into *fit* (the verifier learns here),
*tune* (the threshold is chosen here) and *test* (never seen; the reported figures come from it).
Three methods are measured side by side on the same test pairs:

- ``cosine``: plain embedding cosine (the common practice), threshold tuned for the target;
- ``cosine+guards``: the same with the guards' vetoes;
- ``verifier+guards``: the learned verifier's score with the guards' vetoes (what the cache uses).
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
from inferopt.cache.semantic.guards import guard_reason
from inferopt.cache.semantic.verifier import Verifier, fit_verifier, idf_table, pair_features
from inferopt.errors import ConfigError

Pair = tuple[str, str, int]
MIN_PREDICTED = 20  # a threshold must accept at least this many tuning pairs to be trusted


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


def split(n: int, test_fraction: float, seed: int) -> tuple[npt.NDArray[np.int_], ...]:
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(n * test_fraction)
    rest = order[n_test:]
    n_fit = len(rest) * 2 // 3
    return rest[:n_fit], rest[n_fit:], order[:n_test]


@dataclass
class CalibrationReport:
    calibration: Calibration
    results: dict[str, OperatingPoint]
    split_sizes: tuple[int, int, int]

    def summary(self) -> str:
        fit, tune, test = self.split_sizes
        lines = [
            f"pairs: fit {fit}, tune {tune}, test {test} (figures below are on the test pairs only)",
            f"target precision {self.calibration.target_precision:.2f}, embedder {self.calibration.embedder}",
            f"{'method':<18}{'threshold':>10}{'precision':>11}{'recall':>8}{'accepted':>10}",
        ]
        for name, point in self.results.items():
            lines.append(
                f"{name:<18}{point.threshold:>10.4f}{point.precision:>11.3f}{point.recall:>8.3f}{point.accepted:>10}"
            )
        lines.append(f"recommended: verifier+guards at threshold {self.calibration.threshold:.4f}")
        return "\n".join(lines)


def calibrate_pairs(
    pairs: Sequence[Pair],
    embedder: Embedder,
    *,
    target_precision: float = 0.9,
    test_fraction: float = 0.5,
    seed: int = 0,
    vectors: dict[str, npt.NDArray[np.float32]] | None = None,
) -> CalibrationReport:
    """Fit, tune and measure on ``pairs`` (see the module docstring)."""
    if vectors is None:
        vectors = embed_texts(embedder, [t for a, b, _ in pairs for t in (a, b)])
    labels = np.asarray([label for _, _, label in pairs])
    fit, tune, test = split(len(pairs), test_fraction, seed)
    idf = idf_table([text for i in fit for text in pairs[i][:2]])  # word rarity from the fitting pairs only
    features = np.stack([pair_features(a, b, vectors[a], vectors[b], idf) for a, b, _ in pairs])
    cosine = features[:, 0]
    vetoed = np.asarray([guard_reason(a, b) is not None for a, b, _ in pairs])
    verifier = fit_verifier(features[fit], labels[fit], embedder=embedder.name, idf=idf)
    verified = np.where(vetoed, 0.0, verifier.score_features(features))
    methods = {"cosine": cosine, "cosine+guards": np.where(vetoed, -1.0, cosine), "verifier+guards": verified}
    results = {}
    for name, scores in methods.items():
        # cosine needs no fitting: its threshold is tuned on fit+tune; the verifier's on tune only.
        tuning = np.concatenate([fit, tune]) if name.startswith("cosine") else tune
        threshold = threshold_for(scores[tuning], labels[tuning], target_precision)
        results[name] = operating_point(scores[test], labels[test], threshold)
    chosen = results["verifier+guards"]
    measured = {name: vars(point) for name, point in results.items()}
    calibration = Calibration(embedder.name, chosen.threshold, verifier, target_precision, measured)
    return CalibrationReport(calibration, results, (len(fit), len(tune), len(test)))


def calibrate_file(
    path: str | Path,
    *,
    target_precision: float = 0.9,
    embedder: str = "minilm",
    test_fraction: float = 0.5,
    seed: int = 0,
) -> CalibrationReport:
    return calibrate_pairs(
        read_pairs(path),
        embedder_from_name(embedder),
        target_precision=target_precision,
        test_fraction=test_fraction,
        seed=seed,
    )
