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
        self._cosine_cuts: Array | None = None
        self._cosine_most: Array | None = None
        self.last_scored = 0  # candidates whose features the last score_candidates computed (inspection)

    def could_reach(self, cosines: Array, threshold: float) -> npt.NDArray[np.bool_]:
        """Which candidates' scores can reach ``threshold`` at all, from their cosine alone.

        The first stage of a lookup: the trees' best log-odds with the cosine fixed and every other
        feature free (:meth:`Trees.most_given`) is an upper bound, so a candidate below it is
        certainly rejected and its word features (the costly part) need not be computed. The bound
        is piecewise constant between the trees' cosine cuts: tabulated once."""
        if self._cosine_cuts is None or self._cosine_most is None:
            column = FEATURE_NAMES.index("cosine")
            cuts = np.unique(self.trees.thresholds[self.trees.features == column])
            values = np.append(cuts, (cuts[-1] if len(cuts) else 0.0) + 1.0)  # x <= cuts[i], and above them all
            self._cosine_cuts, self._cosine_most = cuts, self.trees.most_given(column, values)
        if threshold <= 0.0:
            return np.ones(len(cosines), dtype=bool)
        if threshold >= 1.0:
            return np.zeros(len(cosines), dtype=bool)
        needed = np.log(threshold / (1.0 - threshold)) - 1e-9  # predict() >= threshold <=> log-odds >= this
        most = self._cosine_most[np.searchsorted(self._cosine_cuts, np.asarray(cosines, dtype=np.float64))]
        return np.asarray(most >= needed)

    def score_features(self, features: Array) -> Array:
        return self.trees.predict(features)

    def score_candidates(
        self,
        question: str,
        vector: npt.NDArray[np.float32],
        candidates: Sequence[str],
        vectors: npt.NDArray[np.float32],
        *,
        at_least: float | None = None,
    ) -> Array:
        """Scores of each candidate question (rows of ``vectors``: their unit vectors) for ``question``.

        With ``at_least``: a candidate whose cosine rules out that score (:meth:`could_reach`) is
        given -inf without computing its features; the others' scores are the same."""
        cosines = (vectors @ vector).astype(np.float64)
        scores = np.full(len(candidates), -np.inf)
        scored = np.ones(len(candidates), dtype=bool) if at_least is None else self.could_reach(cosines, at_least)
        self.last_scored = int(scored.sum())
        if scored.any():
            pairs = [(question, c) for c, keep in zip(candidates, scored, strict=True) if keep]
            features = feature_matrix(pairs, cosines[scored].tolist(), self.idf, self.unseen_idf)
            scores[scored] = self.score_features(features)
        return scores

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
