"""The re-ranker: the cross-encoder's score and the trees' score, combined by a fitted logistic stack.

Neither score is enough alone at high precision: the cross-encoder sees meaning across both
questions but, fitted on a few thousand pairs, also learns topic priors (pairs about a popular
subject score high whatever they ask); the trees see word-level differences (a rare word on one
side) but not meaning. A two-weight logistic regression over (cross-encoder log-odds, trees
log-odds), fitted on pairs neither model was trained on, gives the probability the cache
thresholds. Measured on the Quora dev pairs' held-out folds (docs/caching.md): recall 0.34 at
precision ~0.90, against 0.24 for the trees and 0.12 for the cross-encoder alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferopt.cache.semantic.cross_encoder import CrossEncoder
from inferopt.errors import InvalidArgumentError

Array = npt.NDArray[np.float64]


def log_odds(probabilities: Array) -> Array:
    clipped = np.clip(probabilities, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(clipped / (1 - clipped)), dtype=np.float64)


@dataclass(frozen=True)
class Stacker:
    """P(duplicate) = sigmoid(bias + weights · columns)."""

    weights: tuple[float, ...]
    bias: float

    def log_odds(self, columns: Array) -> Array:
        return np.asarray(columns @ np.asarray(self.weights) + self.bias, dtype=np.float64)

    def probability(self, columns: Array) -> Array:
        return np.asarray(1.0 / (1.0 + np.exp(-self.log_odds(columns))), dtype=np.float64)


def fit_stacker(columns: Array, labels: npt.NDArray[np.int_], *, l2: float = 1e-2, iterations: int = 50) -> Stacker:
    """Logistic regression by Newton's method (a handful of columns: a few milliseconds)."""
    x = np.column_stack([columns, np.ones(len(columns))])
    y = labels.astype(np.float64)
    beta = np.zeros(x.shape[1])
    penalty = l2 * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        gradient = x.T @ (p - y) + penalty @ beta
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.max(np.abs(step))) < 1e-9:
            break
    return Stacker(tuple(float(b) for b in beta[:-1]), float(beta[-1]))


def stack_columns(cross_encoder: CrossEncoder, pairs: Sequence[tuple[str, str]], tree_scores: Array) -> Array:
    """The stack's inputs for each pair: the cross-encoder's log-odds and the trees'."""
    return np.column_stack([cross_encoder.logits(pairs), log_odds(tree_scores)])


@dataclass
class Reranker:
    """The cross-encoder and the stack that combines its score with the trees'."""

    cross_encoder: CrossEncoder
    stacker: Stacker

    def score(self, pairs: Sequence[tuple[str, str]], tree_scores: Array) -> Array:
        """The combined probability for each (question, candidate) pair, given the trees' scores."""
        if not pairs:
            return np.zeros(0)
        return self.stacker.probability(stack_columns(self.cross_encoder, pairs, tree_scores))

    def to_json(self, relative_to: Path) -> dict[str, Any]:
        """The stack's weights and the model directory, relative to the calibration file's folder."""
        path = self.cross_encoder.path.resolve()
        try:
            shown = str(path.relative_to(relative_to.resolve()))
        except ValueError:
            shown = str(path)
        return {
            "kind": "cross-encoder+trees",
            "path": shown,
            "weights": list(self.stacker.weights),
            "bias": self.stacker.bias,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], relative_to: Path) -> Reranker:
        if data.get("kind") != "cross-encoder+trees":
            raise InvalidArgumentError(f"unknown re-ranker kind {data.get('kind')!r}; calibrate again")
        stacker = Stacker(tuple(float(w) for w in data["weights"]), float(data["bias"]))
        # Loaded for lookups: a handful of pairs at a time, one thread (see CrossEncoder).
        return cls(CrossEncoder(relative_to / data["path"], threads=1), stacker)
