"""A cosine index over unit vectors: exact while small, an inverted-file (clustered) index when large.

The rows live in *lists*: contiguous float32 blocks, each grown on its own. Below ``cluster_from``
rows there is one list and a search is one matrix-vector product (BLAS ``sgemv``) plus
``argpartition``: exact, and a millisecond or two. From ``cluster_from`` rows on, the rows are
clustered (spherical k-means, ~``rows_per_list`` rows a list, refitted each time the index doubles)
and each list holds one cluster's rows. A query scores the centroids, scans the ``probe`` nearest
lists only (at 100k rows ~6% of the bytes the exact scan reads: the scan is bound by memory
bandwidth, 154 MB at 100k x 384, and on a shared machine its tail is worse still), and returns
exact cosines of the rows it scanned. A row in a list it did not probe is missed; for the rows a
cache can serve (near-duplicates, cosine >= 0.8) that is rare, measured on real question
embeddings by ``benchmarks/cache/bench_semantic.py`` (``index recall``).

Each row carries an integer id; removal zeroes the row and marks it dead, so ids stay stable.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from inferopt.errors import InvalidArgumentError

Vectors = npt.NDArray[np.float32]
CLUSTER_FROM = 20_000  # below this the exact scan is already a millisecond or two
ROWS_PER_LIST = 256
PROBE = 24  # lists scanned a query (at most: all lists while there are fewer)
KMEANS_ROUNDS = 8
KMEANS_SAMPLE_PER_LIST = 48  # k-means fits on a sample: ~1 s at 80k rows, once per doubling


class _List:
    """One block of rows: vectors, their ids (-1: removed), grown by half when full."""

    __slots__ = ("dead", "ids", "size", "vectors")

    def __init__(self, dim: int, capacity: int) -> None:
        self.vectors: Vectors = np.zeros((max(capacity, 4), dim), dtype=np.float32)
        self.ids = np.full(max(capacity, 4), -1, dtype=np.int64)
        self.size = 0
        self.dead = 0

    def append(self, vectors: Vectors, ids: npt.NDArray[np.int64]) -> int:
        """Append rows; the slot of the first."""
        start, end = self.size, self.size + len(ids)
        if end > len(self.ids):
            capacity = max(end, len(self.ids) + len(self.ids) // 2)
            grown = np.zeros((capacity, self.vectors.shape[1]), dtype=np.float32)
            grown[:start] = self.vectors[:start]
            grown_ids = np.full(capacity, -1, dtype=np.int64)
            grown_ids[:start] = self.ids[:start]
            self.vectors, self.ids = grown, grown_ids
        self.vectors[start:end] = vectors
        self.ids[start:end] = ids
        self.size = end
        return start

    def live(self) -> tuple[Vectors, npt.NDArray[np.int64]]:
        keep = self.ids[: self.size] >= 0
        return self.vectors[: self.size][keep], self.ids[: self.size][keep]

    def scores(self, query: Vectors) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Cosines of every row with ``query`` (removed rows: -inf) and their ids."""
        scores = self.vectors[: self.size] @ query
        ids = self.ids[: self.size]
        if self.dead:
            scores[ids < 0] = -np.inf
        return scores, ids


class VectorIndex:
    def __init__(
        self,
        dim: int,
        *,
        initial_capacity: int = 1024,
        cluster_from: int = CLUSTER_FROM,
        rows_per_list: int = ROWS_PER_LIST,
        probe: int = PROBE,
    ) -> None:
        self.dim = dim
        self.cluster_from, self.rows_per_list, self.probe = cluster_from, rows_per_list, probe
        self._lists = [_List(dim, initial_capacity)]
        self._centroids: Vectors | None = None  # (lists, dim) once clustered
        self._where: dict[int, tuple[int, int]] = {}  # id -> (list, slot)
        self._clustered_at = 0

    def __len__(self) -> int:
        return len(self._where)

    @property
    def lists(self) -> int:
        """How many lists the rows are spread over (1: not clustered, every search is exact)."""
        return len(self._lists)

    def add(self, vector: npt.NDArray[np.float32], item_id: int) -> None:
        self.add_many(vector[None, :] if vector.ndim == 1 else vector, [item_id])

    def add_many(self, vectors: npt.NDArray[np.float32], item_ids: list[int]) -> None:
        """Append rows (what loading a persisted index uses: one copy per list)."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or len(vectors) != len(item_ids):
            raise InvalidArgumentError(
                f"vectors of shape {vectors.shape} for {len(item_ids)} ids, index dimension {self.dim}"
            )
        for item_id in item_ids:
            if item_id in self._where:
                self.remove(item_id)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        ids = np.asarray(item_ids, dtype=np.int64)
        if self._centroids is None:
            self._place(0, vectors, ids)
        else:
            owners = self._assign(vectors)
            for owner in np.unique(owners):
                chosen = owners == owner
                self._place(int(owner), vectors[chosen], ids[chosen])
        size = len(self._where)
        if size >= self.cluster_from and size >= 2 * self._clustered_at:
            self._cluster()

    def _place(self, owner: int, vectors: Vectors, ids: npt.NDArray[np.int64]) -> None:
        start = self._lists[owner].append(vectors, ids)
        self._where.update((int(i), (owner, start + j)) for j, i in enumerate(ids))

    def _assign(self, vectors: Vectors) -> npt.NDArray[np.int64]:
        assert self._centroids is not None
        owners = np.empty(len(vectors), dtype=np.int64)
        for start in range(0, len(vectors), 8192):  # bounded memory for the (rows, lists) scores
            owners[start : start + 8192] = np.argmax(vectors[start : start + 8192] @ self._centroids.T, axis=1)
        return owners

    def _cluster(self) -> None:
        """Spherical k-means on a sample of the live rows, then every row moved to its centroid's list."""
        parts = [block.live() for block in self._lists]
        vectors = np.concatenate([p[0] for p in parts])
        ids = np.concatenate([p[1] for p in parts])
        count = max(1, len(ids) // self.rows_per_list)
        rng = np.random.default_rng(0)
        sample = vectors[rng.permutation(len(ids))[: count * KMEANS_SAMPLE_PER_LIST]]
        centroids = sample[rng.permutation(len(sample))[:count]].copy()
        for _ in range(KMEANS_ROUNDS):
            owners = np.argmax(sample @ centroids.T, axis=1)
            sums = np.zeros_like(centroids)
            np.add.at(sums, owners, sample)
            empty = np.bincount(owners, minlength=count) == 0
            sums[empty] = sample[rng.integers(0, len(sample), int(empty.sum()))]  # re-seed an empty cluster
            centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        self._centroids = centroids.astype(np.float32)
        owners = self._assign(vectors)
        order = np.argsort(owners, kind="stable")
        sizes = np.bincount(owners, minlength=count)
        self._lists = [_List(self.dim, int(size * 1.25) + 8) for size in sizes]  # slack for inserts
        self._where = {}
        start = 0
        for owner, size in enumerate(sizes.tolist()):
            rows = order[start : start + size]
            self._place(owner, vectors[rows], ids[rows])
            start += size
        self._clustered_at = len(ids)

    def vector(self, item_id: int) -> npt.NDArray[np.float32]:
        """The stored unit vector of ``item_id`` (a view: do not modify)."""
        owner, slot = self._where[item_id]
        row: npt.NDArray[np.float32] = self._lists[owner].vectors[slot]
        return row

    def remove(self, item_id: int) -> None:
        where = self._where.pop(item_id, None)
        if where is not None:
            block = self._lists[where[0]]
            block.ids[where[1]] = -1
            block.vectors[where[1]] = 0.0
            block.dead += 1

    def search(self, vector: npt.NDArray[np.float32], k: int = 5, *, exact: bool = False) -> list[tuple[int, float]]:
        """The ``k`` most similar live rows: ``(id, cosine)``, best first (``exact``: scan every list)."""
        if not self._where:
            return []
        query = vector.astype(np.float32, copy=False)
        if self._centroids is None or exact or self.probe >= len(self._lists):
            scanned = self._lists
        else:
            near = self._centroids @ query
            chosen = np.argpartition(near, len(near) - self.probe)[len(near) - self.probe :]
            scanned = [self._lists[i] for i in chosen.tolist()]
        found = [block.scores(query) for block in scanned if block.size > block.dead]
        if not found:
            return []
        scores = np.concatenate([f[0] for f in found])  # one selection over the scanned rows: ~8k at 100k
        ids = np.concatenate([f[1] for f in found])
        k = min(k, len(scores))
        best = np.argpartition(scores, len(scores) - k)[len(scores) - k :]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(ids[i]), float(scores[i])) for i in best if ids[i] >= 0]
