"""Gradient-boosted decision trees for binary labels, in plain numpy (fit and predict).

Why not a linear model: the verifier's signals interact (a high cosine means little when a rare
word differs; length matters only when words overlap), and trees take them as they come, with no
scaling. Why not a library: fitting 10k pairs x ~60 features takes seconds here, and the fitted
model is a handful of arrays saved as JSON and evaluated with numpy at lookup time.

The method is the usual one: features cut into at most ``bins`` quantile bins; each round fits a
tree of depth ``depth`` to the logistic loss's gradient and Hessian (second-order gains, L2 on the
leaf values), keeping leaves with at least ``min_leaf`` pairs, and adds it shrunk by ``learning_rate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


@dataclass
class Trees:
    """Complete binary trees of one depth, stored level by level: node i has children 2i+1, 2i+2."""

    features: npt.NDArray[np.int64]  # (trees, internal nodes); -1: no split (both sides take the same path)
    thresholds: Array  # (trees, internal nodes): go right when x > threshold
    leaves: Array  # (trees, 2**depth)
    base: float
    depth: int

    def raw(self, x: Array) -> Array:
        """The log-odds for each row of ``x``."""
        n, trees = len(x), len(self.leaves)
        rows = np.arange(n)[:, None]
        tree = np.arange(trees)[None, :]
        node = np.zeros((n, trees), dtype=np.int64)  # every row walks every tree at once: depth steps in all
        for _ in range(self.depth):
            feature = self.features[tree, node]
            right = (feature >= 0) & (x[rows, np.maximum(feature, 0)] > self.thresholds[tree, node])
            node = 2 * node + 1 + right
        leaves = self.leaves[tree, node - (2**self.depth - 1)]
        return np.asarray(self.base + leaves.sum(axis=1), dtype=np.float64)

    def predict(self, x: Array) -> Array:
        return np.asarray(1.0 / (1.0 + np.exp(-self.raw(x))), dtype=np.float64)

    def most_given(self, feature: int, values: Array) -> Array:
        """For each of ``values``: the highest log-odds any row whose ``feature`` has that value can get,
        whatever its other features (each tree's best leaf reachable with that one feature fixed).

        An upper bound, so a row below it at a threshold is certainly below: what lets a lookup skip
        the pair features of candidates whose cosine alone rules them out."""
        trees, internal = self.features.shape
        reach = np.zeros((len(values), trees, internal + 2**self.depth), dtype=bool)
        reach[:, :, 0] = True
        x = np.asarray(values, dtype=np.float64)[:, None]
        for node in range(internal):
            split, threshold = self.features[:, node], self.thresholds[:, node]
            here = reach[:, :, node]
            other = split != feature  # a split on another feature (or none): that side is open
            reach[:, :, 2 * node + 1] = here & (other | (x <= threshold))
            reach[:, :, 2 * node + 2] = here & (split >= 0) & (other | (x > threshold))  # no split: left only
        leaves = np.where(reach[:, :, internal:], self.leaves[None, :, :], -np.inf)
        return np.asarray(self.base + leaves.max(axis=2).sum(axis=1), dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        return {
            "features": self.features.tolist(),
            "thresholds": self.thresholds.tolist(),
            "leaves": self.leaves.tolist(),
            "base": self.base,
            "depth": self.depth,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trees:
        return cls(
            np.asarray(data["features"], dtype=np.int64),
            np.asarray(data["thresholds"], dtype=np.float64),
            np.asarray(data["leaves"], dtype=np.float64),
            float(data["base"]),
            int(data["depth"]),
        )


def _bin_edges(x: Array, bins: int) -> list[Array]:
    edges = []
    for column in x.T:
        cuts = np.unique(np.quantile(column, np.linspace(0, 1, bins + 1)[1:-1]))
        edges.append(cuts)
    return edges


def fit_trees(
    x: Array,
    y: npt.NDArray[np.int_],
    *,
    rounds: int = 300,
    depth: int = 4,
    learning_rate: float = 0.05,
    min_leaf: int = 40,
    l2: float = 1.0,
    bins: int = 64,
    subsample: float = 0.8,
    seed: int = 0,
) -> Trees:
    """Fit boosted trees to 0/1 labels (deterministic for a seed)."""
    n, d = x.shape
    edges = _bin_edges(x, bins)
    codes = np.stack([np.searchsorted(e, x[:, j], side="left") for j, e in enumerate(edges)], axis=1)  # x <= e[b]
    width = bins + 1
    flat = codes + np.arange(d) * width  # one histogram slot per (feature, bin)
    target = y.astype(np.float64)
    prior = float(np.clip(target.mean(), 1e-6, 1 - 1e-6))
    base = float(np.log(prior / (1 - prior)))
    raw = np.full(n, base)
    internal = 2**depth - 1
    all_features = np.full((rounds, internal), -1, dtype=np.int64)
    all_thresholds = np.zeros((rounds, internal))
    all_leaves = np.zeros((rounds, 2**depth))
    rng = np.random.default_rng(seed)
    for r in range(rounds):
        p = 1.0 / (1.0 + np.exp(-raw))
        grad, hess = p - target, np.maximum(p * (1 - p), 1e-12)
        sample = rng.random(n) < subsample
        node = np.zeros(n, dtype=np.int64)
        for level in range(depth):
            first = 2**level - 1
            for offset in range(2**level):
                index = first + offset
                rows = np.nonzero(sample & (node == index))[0]
                split = _best_split(flat[rows], grad[rows], hess[rows], d, width, min_leaf, l2)
                if split is None:
                    continue
                feature, bin_index = split
                all_features[r, index] = feature
                all_thresholds[r, index] = edges[feature][bin_index]
            feature = all_features[r][node]
            right = (feature >= 0) & (x[np.arange(n), np.maximum(feature, 0)] > all_thresholds[r][node])
            node = 2 * node + 1 + right
        leaf = node - internal
        g = np.bincount(leaf[sample], grad[sample], minlength=2**depth)
        h = np.bincount(leaf[sample], hess[sample], minlength=2**depth)
        all_leaves[r] = -learning_rate * g / (h + l2)
        raw += all_leaves[r][leaf]
    return Trees(all_features, all_thresholds, all_leaves, base, depth)


def _best_split(
    flat: npt.NDArray[np.int64], grad: Array, hess: Array, d: int, width: int, min_leaf: int, l2: float
) -> tuple[int, int] | None:
    """The (feature, bin) whose cut "bin and below / above" most reduces the second-order loss."""
    if len(grad) < 2 * min_leaf:
        return None
    size = d * width
    g = np.bincount(flat.ravel(), np.repeat(grad, d), minlength=size).reshape(d, width)
    h = np.bincount(flat.ravel(), np.repeat(hess, d), minlength=size).reshape(d, width)
    c = np.bincount(flat.ravel(), minlength=size).reshape(d, width)
    g_left, h_left, c_left = np.cumsum(g, 1)[:, :-1], np.cumsum(h, 1)[:, :-1], np.cumsum(c, 1)[:, :-1]
    g_all, h_all, n = grad.sum(), hess.sum(), len(grad)
    gain = g_left**2 / (h_left + l2) + (g_all - g_left) ** 2 / (h_all - h_left + l2) - g_all**2 / (h_all + l2)
    gain[(c_left < min_leaf) | (n - c_left < min_leaf)] = -np.inf
    best = int(np.argmax(gain))
    if not np.isfinite(gain.flat[best]) or gain.flat[best] <= 0:
        return None
    return best // (width - 1), best % (width - 1)
