"""The learned verifier: is candidate B's answer right for question A?

Boosted trees (:mod:`inferopt.cache.semantic.boosting`) over the pair features of
:mod:`inferopt.cache.semantic.features` (the embedding cosine plus word-level signals), fitted on
labelled pairs by ``inferopt cache calibrate`` and saved in the calibration JSON with the word
rarity (IDF) table it was fitted with. At lookup it scores the few candidates that passed the
guards: ~30 features each and a few hundred depth-4 trees, well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from inferopt.cache.semantic.boosting import Trees, fit_trees
from inferopt.cache.semantic.features import FEATURE_NAMES, pair_features
from inferopt.errors import InvalidArgumentError

Array = npt.NDArray[np.float64]


def feature_matrix(
    pairs: Sequence[tuple[str, str]], cosines: Sequence[float], idf: dict[str, float], unseen: float | None = None
) -> Array:
    """One row of features per pair; ``unseen``: the weight of a word not in ``idf`` (default: the rarest's)."""
    if unseen is None:
        unseen = max(idf.values(), default=0.0)
    rows = [pair_features(a, b, float(c), idf, unseen) for (a, b), c in zip(pairs, cosines, strict=True)]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURE_NAMES))


@dataclass
class PairVerifier:
    """Boosted trees over pair features; ``score`` is a probability-like number in [0, 1]."""

    trees: Trees
    idf: dict[str, float]
    embedder: str

    def __post_init__(self) -> None:
        self.unseen_idf = max(self.idf.values(), default=0.0)  # once, not per lookup (~15k words)

    def score_features(self, features: Array) -> Array:
        return self.trees.predict(features)

    def score_candidates(
        self,
        question: str,
        vector: npt.NDArray[np.float32],
        candidates: Sequence[str],
        vectors: npt.NDArray[np.float32],
    ) -> Array:
        """Scores of each candidate question (rows of ``vectors``: their unit vectors) for ``question``."""
        cosines = (vectors @ vector).tolist()
        pairs = [(question, c) for c in candidates]
        return self.score_features(feature_matrix(pairs, cosines, self.idf, self.unseen_idf))

    def score(self, a: str, b: str, va: npt.NDArray[np.float32], vb: npt.NDArray[np.float32]) -> float:
        return float(self.score_candidates(a, va, [b], vb[None, :])[0])

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "boosted-trees",
            "feature_names": list(FEATURE_NAMES),
            "trees": self.trees.to_json(),
            "idf": self.idf,
            "embedder": self.embedder,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PairVerifier:
        if data.get("kind") != "boosted-trees" or data.get("feature_names") != list(FEATURE_NAMES):
            raise InvalidArgumentError(
                "the verifier was fitted by another version of inferopt (other features); calibrate again"
            )
        idf = {str(k): float(v) for k, v in data["idf"].items()}
        return cls(Trees.from_json(data["trees"]), idf, str(data["embedder"]))


def fit_verifier(
    features: Array, labels: npt.NDArray[np.int_], *, embedder: str, idf: dict[str, float], seed: int = 0
) -> PairVerifier:
    """Fit the trees on labelled pair features (deterministic for a seed; seconds for 10k pairs)."""
    return PairVerifier(fit_trees(features, labels, seed=seed), idf, embedder)
