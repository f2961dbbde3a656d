"""A cosine index over unit vectors: one contiguous float32 matrix, grown by doubling.

Small indexes are searched exactly: one matrix-vector product (BLAS ``sgemv``) into a preallocated
score buffer, then ``argpartition`` for the top k. That product reads the whole matrix (154 MB at
100k x 384), so it is bound by memory bandwidth. From ``sketch_from`` rows on, the index keeps a
*sketch* as well: every row projected on the ``sketch_dim`` principal directions of the stored
vectors (PCA, refitted each time the index doubles). A query then scans the sketch (a third of the
bytes at 128 of 384 dimensions), keeps the ``rerank`` best rows and re-scores those exactly, so
the cosines it returns are exact; only a row the sketch ranks below ``rerank`` can be missed
(measured on real question embeddings by ``benchmarks/cache/bench_semantic.py``).

Each row carries an integer id; removal zeroes the row and marks it dead, so ids stay stable.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from inferopt.cache.semantic.embedder import Vectors
from inferopt.errors import InvalidArgumentError

SKETCH_FROM = 20_000  # below this the exact scan is already a millisecond or two
SKETCH_DIM = 128
RERANK = 256


class VectorIndex:
    def __init__(
        self,
        dim: int,
        *,
        initial_capacity: int = 1024,
        sketch_from: int = SKETCH_FROM,
        sketch_dim: int = SKETCH_DIM,
        rerank: int = RERANK,
    ) -> None:
        self.dim = dim
        self._vectors: Vectors = np.zeros((initial_capacity, dim), dtype=np.float32)
        self._scores = np.zeros(initial_capacity, dtype=np.float32)
        self._ids = np.full(initial_capacity, -1, dtype=np.int64)
        self._rows: dict[int, int] = {}
        self._size = 0
        self.sketch_from, self.sketch_dim, self.rerank = sketch_from, min(sketch_dim, dim), rerank
        self._projection: Vectors | None = None  # (dim, sketch_dim): the principal directions
        self._sketch: Vectors = np.zeros((0, self.sketch_dim), dtype=np.float32)
        self._sketch_fitted_at = 0

    def __len__(self) -> int:
        return len(self._rows)

    def _grow(self, needed: int) -> None:
        capacity = len(self._ids)
        while capacity < needed:
            capacity *= 2
        if capacity == len(self._ids):
            return
        vectors = np.zeros((capacity, self.dim), dtype=np.float32)
        vectors[: self._size] = self._vectors[: self._size]
        ids = np.full(capacity, -1, dtype=np.int64)
        ids[: self._size] = self._ids[: self._size]
        self._vectors, self._ids, self._scores = vectors, ids, np.zeros(capacity, dtype=np.float32)
        if self._projection is not None:
            sketch = np.zeros((capacity, self.sketch_dim), dtype=np.float32)
            sketch[: self._size] = self._sketch[: self._size]
            self._sketch = sketch

    def _fit_sketch(self) -> None:
        """Principal directions of (a sample of) the stored rows; every row projected on them.

        Uncentred on purpose: the top singular directions of the raw rows are the best rank-d
        approximation of their inner products, the mean direction included."""
        live = self._vectors[: self._size]
        sample = live[np.random.default_rng(0).permutation(self._size)[:20_000]]
        _, _, vt = np.linalg.svd(sample, full_matrices=False)
        self._projection = np.ascontiguousarray(vt[: self.sketch_dim].T, dtype=np.float32)
        self._sketch = np.zeros((len(self._ids), self.sketch_dim), dtype=np.float32)
        np.matmul(live, self._projection, out=self._sketch[: self._size])
        self._sketch_fitted_at = self._size

    def add(self, vector: npt.NDArray[np.float32], item_id: int) -> None:
        self.add_many(vector[None, :] if vector.ndim == 1 else vector, [item_id])

    def add_many(self, vectors: npt.NDArray[np.float32], item_ids: list[int]) -> None:
        """Append rows in one copy (what loading a persisted index uses)."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or len(vectors) != len(item_ids):
            raise InvalidArgumentError(
                f"vectors of shape {vectors.shape} for {len(item_ids)} ids, index dimension {self.dim}"
            )
        start, end = self._size, self._size + len(item_ids)
        self._grow(end)
        self._vectors[start:end] = vectors
        self._ids[start:end] = item_ids
        self._rows.update(zip(item_ids, range(start, end), strict=True))
        self._size = end
        if end >= self.sketch_from and end >= 2 * self._sketch_fitted_at:
            self._fit_sketch()
        elif self._projection is not None:
            self._sketch[start:end] = vectors @ self._projection

    def vector(self, item_id: int) -> npt.NDArray[np.float32]:
        """The stored unit vector of ``item_id`` (a view: do not modify)."""
        row: npt.NDArray[np.float32] = self._vectors[self._rows[item_id]]
        return row

    def remove(self, item_id: int) -> None:
        row = self._rows.pop(item_id, None)
        if row is not None:
            self._ids[row] = -1
            self._vectors[row] = 0.0
            if self._projection is not None:
                self._sketch[row] = 0.0

    def _top(self, scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
        """Positions of the ``k`` highest scores, best first."""
        k = min(k, len(scores))
        top = np.argpartition(scores, len(scores) - k)[len(scores) - k :]
        return top[np.argsort(-scores[top])]

    def search(self, vector: npt.NDArray[np.float32], k: int = 5, *, exact: bool = False) -> list[tuple[int, float]]:
        """The ``k`` most similar live rows: ``(id, cosine)``, best first (``exact``: never use the sketch)."""
        if not self._rows:
            return []
        query = vector.astype(np.float32, copy=False)
        scores = self._scores[: self._size]
        if self._projection is not None and not exact:
            np.matmul(self._sketch[: self._size], query @ self._projection, out=scores)
        else:
            np.matmul(self._vectors[: self._size], query, out=scores)
        if len(self._rows) < self._size:  # dead rows hold zero vectors; keep them out of the top k
            scores[self._ids[: self._size] < 0] = -np.inf
        if self._projection is not None and not exact:
            candidates = self._top(scores, max(self.rerank, k))
            candidates = candidates[self._ids[candidates] >= 0]
            exact_scores = self._vectors[candidates] @ query
            order = self._top(exact_scores, k)
            return [(int(self._ids[candidates[i]]), float(exact_scores[i])) for i in order]
        return [(int(self._ids[i]), float(scores[i])) for i in self._top(scores, k) if self._ids[i] >= 0]
