"""A learned router: k nearest recorded prompts vote on which model answers well, and at what cost.

Trained from recorded outcomes (:class:`~inferopt.routing.data.Outcomes`): for a new prompt, the
``k`` most similar training prompts (cosine similarity of hashed tf-idf features, see
``features.py``) give a similarity-weighted estimate of each model's chance of being correct and of
its cost. The router picks the model with the best ``p_correct - cost_weight * cost / cost_scale``:
``cost_weight`` is the one knob (0 = best expected quality whatever it costs; large = cheapest).
``cost_estimate="mean"`` uses each model's mean training cost instead of the neighbours' (the choice
then ranks prompts by expected quality gain alone, which is what RouteLLM's APGR rewards).

Saved as one ``.npz`` file (arrays only, no pickle) holding the training prompts' features, their
outcomes and a fingerprint of every training prompt, so an evaluation can refuse to score a router
on rows it was trained on. Loading needs numpy and nothing else: no network.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferopt.errors import InvalidArgumentError, RouterFileError
from inferopt.routing.data import Outcomes
from inferopt.routing.features import (
    DEFAULT_DIMS,
    DEFAULT_TAIL_CHARS,
    hashed_features,
    inverse_document_frequency,
    require_numpy,
    weighted_unit,
)
from inferopt.routing.knn_index import Postings, SimilarityIndex, build_postings

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

FORMAT_VERSION = 3
COST_ESTIMATES = ("neighbours", "mean")


_numpy = require_numpy


def read_saved_file(
    path: str | Path, arrays: Sequence[str], *, what: str, version: int, fix: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(meta, arrays) of a routing ``.npz`` file written with a JSON ``meta``; a clear error when it is
    not ``what`` or not of ``version`` (``fix`` says how to get a good one)."""
    np = _numpy()
    try:
        with np.load(Path(path), allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            loaded = {name: f[name] for name in arrays}
    except (OSError, KeyError, ValueError) as exc:
        raise RouterFileError(f"{path}: not a saved {what} ({exc}); {fix}") from exc
    if meta.get("version") != version:
        raise RouterFileError(f"{path}: {what} format {meta.get('version')}, expected {version}; {fix}")
    return meta, loaded


def prompt_fingerprint(prompt: str) -> str:
    """A short stable digest of a prompt, to check train/eval rows are disjoint without storing text."""
    return hashlib.sha1(prompt.strip().encode()).hexdigest()[:16]


class KnnRouter:
    """Nearest-neighbour router over recorded outcomes. Build with :meth:`fit` or :meth:`load`."""

    def __init__(
        self,
        *,
        models: Sequence[str],
        postings: Postings,
        correct: NDArray[np.float32],
        cost: NDArray[np.float32],
        idf: NDArray[np.float32],
        k: int,
        tail_chars: int,
        fingerprints: Sequence[str],
        cost_weight: float = 1.0,
        cost_estimate: str = "neighbours",
    ) -> None:
        if cost_estimate not in COST_ESTIMATES:
            raise InvalidArgumentError(f"cost_estimate must be one of {COST_ESTIMATES} (got {cost_estimate!r})")
        self.cost_estimate = cost_estimate
        self.models = tuple(models)
        self.index = SimilarityIndex(postings, correct.shape[0])
        self._correct = correct
        self._cost = cost
        self._idf = idf
        self._dims = len(idf)
        self.k = min(k, correct.shape[0])
        self.tail_chars = tail_chars
        self.fingerprints = frozenset(fingerprints)
        self.cost_weight = cost_weight
        # Costs are compared in units of the dearest model's mean cost, so the knob is data-independent.
        self._mean_cost = cost.mean(axis=0)
        self.cost_scale = float(self._mean_cost.max()) or 1.0

    @classmethod
    def fit(
        cls,
        data: Outcomes,
        *,
        k: int = 100,
        dims: int = DEFAULT_DIMS,
        tail_chars: int = DEFAULT_TAIL_CHARS,
        cost_weight: float = 1.0,
        cost_estimate: str = "neighbours",
        max_df: float = 0.5,
    ) -> KnnRouter:
        """Train on every row of ``data`` (split first: never fit on rows you evaluate on)."""
        np = _numpy()
        if len(data) == 0:
            raise InvalidArgumentError("cannot train a router on zero rows")
        counts = [hashed_features(p, dims, tail_chars) for p in data.prompts]
        idf = inverse_document_frequency(counts, dims)
        # Columns in more than ``max_df`` of the training prompts (few-shot boilerplate, "the", "answer")
        # say little about one prompt yet dominate the work per query: their postings are dropped.
        common = math.log((1 + len(data)) / (1 + int(len(data) * max_df))) + 1.0
        postings = build_postings([weighted_unit(doc, idf) for doc in counts], dims, idf >= common)
        return cls(
            models=data.models,
            postings=postings,
            correct=np.asarray(data.correct, dtype=np.float32),
            cost=np.asarray(data.cost, dtype=np.float32),
            idf=idf,
            k=k,
            tail_chars=tail_chars,
            fingerprints=[prompt_fingerprint(p) for p in data.prompts],
            cost_weight=cost_weight,
            cost_estimate=cost_estimate,
        )

    def estimate(self, prompt: str) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Estimated (chance of being correct, cost) of each model on ``prompt``."""
        np = _numpy()
        query = weighted_unit(hashed_features(prompt, self._dims, self.tail_chars), self._idf)
        if not query[0].size:  # no words at all: fall back to the training averages
            return self._correct.mean(axis=0), self._mean_cost
        similarity = self.index.similarity(query)
        nearest = np.argpartition(-similarity, self.k - 1)[: self.k] if self.k < similarity.size else slice(None)
        weights = np.maximum(similarity[nearest], 0.0) + 1e-6
        total = weights.sum()
        p_correct = weights @ self._correct[nearest] / total
        if self.cost_estimate == "mean":
            return p_correct, self._mean_cost
        return p_correct, weights @ self._cost[nearest] / total

    def estimate_many(self, prompts: Sequence[str]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """:meth:`estimate` for many prompts, stacked (rows follow ``prompts``)."""
        np = _numpy()
        pairs = [self.estimate(p) for p in prompts]
        return np.stack([p for p, _ in pairs]), np.stack([c for _, c in pairs])

    def choose(self, p_correct: Any, cost: Any, cost_weight: float | None = None) -> Any:
        """Index of the model with the best utility (works on one row or a stack of rows)."""
        np = _numpy()
        weight = self.cost_weight if cost_weight is None else cost_weight
        return np.argmax(p_correct - weight * cost / self.cost_scale, axis=-1)

    def route(self, prompt: str, cost_weight: float | None = None) -> str:
        """The model this router sends ``prompt`` to."""
        p_correct, cost = self.estimate(prompt)
        return self.models[int(self.choose(p_correct, cost, cost_weight))]

    def save(self, path: str | Path) -> None:
        """Write the router to one ``.npz`` file (no pickled objects)."""
        np = _numpy()
        meta = {"version": FORMAT_VERSION, "models": list(self.models), "k": self.k, "tail_chars": self.tail_chars}
        meta.update(cost_weight=self.cost_weight, cost_estimate=self.cost_estimate)
        with Path(path).open("wb") as f:
            np.savez_compressed(
                f,
                meta=np.array(json.dumps(meta)),
                col_ptr=self.index.postings[0],
                rows=self.index.postings[1],
                values=self.index.postings[2],
                correct=self._correct,
                cost=self._cost,
                idf=self._idf,
                fingerprints=np.array(sorted(self.fingerprints)),
            )

    @classmethod
    def load(cls, path: str | Path) -> KnnRouter:
        """Read a router written by :meth:`save`."""
        np = _numpy()
        names = ("col_ptr", "rows", "values", "correct", "cost", "idf", "fingerprints")
        fix = "train one with `inferopt route train`"
        meta, arrays = read_saved_file(path, names, what="inferopt router", version=FORMAT_VERSION, fix=fix)
        return cls(
            models=meta["models"],
            postings=(arrays["col_ptr"], arrays["rows"], arrays["values"]),
            correct=arrays["correct"],
            cost=arrays["cost"],
            idf=arrays["idf"].astype(np.float32),
            k=int(meta["k"]),
            tail_chars=int(meta["tail_chars"]),
            fingerprints=[str(x) for x in arrays["fingerprints"]],
            cost_weight=float(meta["cost_weight"]),
            cost_estimate=str(meta["cost_estimate"]),
        )


def knob_grid(router: KnnRouter, p_correct: Any, cost: Any, points: int = 100) -> list[float]:
    """Knob settings that sweep the router from best quality to cheapest, dense where decisions change.

    For every row, the weight at which each cheaper model starts to beat the most promising one is
    a break-even; quantiles of those break-evens (plus 0 and past the largest) cover the whole curve.
    """
    np = _numpy()
    best = np.argmax(p_correct, axis=1)
    rows = np.arange(p_correct.shape[0])
    gain = p_correct[rows, best][:, None] - p_correct
    saving = (cost[rows, best][:, None] - cost) / router.cost_scale
    mask = saving > 0
    breaks = gain[mask] / saving[mask]
    if breaks.size == 0:
        return [0.0]
    quantiles = np.quantile(breaks, np.linspace(0.0, 1.0, points))
    return [0.0, *sorted({float(q) for q in quantiles}), float(breaks.max()) * 2 + 1.0]
