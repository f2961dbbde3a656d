"""Exact cosine similarity of one query to every training prompt, fast enough to run per request.

The training prompts' unit feature vectors are kept as postings (column -> training rows and
values: compact, what a saved router stores). In memory, the columns that have postings are also
laid out as a dense ``(column, training row)`` float32 matrix: a query's similarities are then one
gather of its ~100-300 columns and one matrix-vector product (~50 microseconds for 1,000 training
prompts), with no Python loop. Past :data:`DENSE_INDEX_BYTES` of dense matrix the index scores from
the postings instead (a vectorised scatter-add: several times slower, same results).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferopt.routing.features import Features, require_numpy

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

DENSE_INDEX_BYTES = 256 << 20

Postings = tuple["NDArray[np.int64]", "NDArray[np.int32]", "NDArray[np.float32]"]


def build_postings(vectors: list[Features], dims: int, keep: NDArray[np.bool_]) -> Postings:
    """Column-major postings of ``vectors`` (one per training row), only for columns where ``keep``."""
    np = require_numpy()
    columns = np.concatenate([c for c, _ in vectors]) if vectors else np.zeros(0, dtype=np.int64)
    values = np.concatenate([v for _, v in vectors]) if vectors else np.zeros(0, dtype=np.float32)
    rows = np.repeat(np.arange(len(vectors), dtype=np.int32), [len(c) for c, _ in vectors])
    mask = keep[columns]
    columns, rows, values = columns[mask], rows[mask], values[mask]
    order = np.lexsort((rows, columns))
    col_ptr = np.zeros(dims + 1, dtype=np.int64)
    col_ptr[1:] = np.cumsum(np.bincount(columns, minlength=dims))
    return col_ptr, rows[order].astype(np.int32), values[order].astype(np.float32)


class SimilarityIndex:
    """Cosine similarities of a unit query vector to ``n_rows`` unit training vectors."""

    _dense: NDArray[np.float32] | None

    def __init__(self, postings: Postings, n_rows: int, dense_limit: int = DENSE_INDEX_BYTES) -> None:
        np = require_numpy()
        self.postings = postings
        self.n_rows = n_rows
        col_ptr, rows, values = postings
        lengths = np.diff(col_ptr)
        used = np.flatnonzero(lengths)
        self._dense = None
        if used.size * n_rows * 4 <= dense_limit:
            # slot[column] = the column's row in the dense matrix, or -1: a column no training prompt has.
            self._slot = np.full(col_ptr.size - 1, -1, dtype=np.int64)
            self._slot[used] = np.arange(used.size)
            dense = np.zeros((used.size + 1, n_rows), dtype=np.float32)  # the extra zero row serves slot -1
            dense[np.repeat(self._slot[used], lengths[used]), rows] = values
            self._dense = dense

    @property
    def dense(self) -> bool:
        """Whether queries are scored from the dense matrix (else from the postings)."""
        return self._dense is not None

    def similarity(self, query: Features) -> NDArray[np.float32]:
        """Cosine similarity of the unit ``query`` to every training row."""
        numpy = require_numpy()
        columns, values = query
        if self._dense is not None:
            dense: NDArray[np.float32] = values @ self._dense[self._slot[columns]]  # slot -1: the zero row
            return dense
        col_ptr, rows, weights = self.postings
        starts, lengths = col_ptr[columns], col_ptr[columns + 1] - col_ptr[columns]
        total = int(lengths.sum())
        # Positions of every posting of the query's columns, without a Python loop.
        offsets = numpy.repeat(starts - numpy.concatenate(([0], numpy.cumsum(lengths)[:-1])), lengths)
        offsets += numpy.arange(total)
        products = weights[offsets] * numpy.repeat(values, lengths)
        sparse: NDArray[np.float32] = numpy.bincount(rows[offsets], weights=products, minlength=self.n_rows)
        return sparse.astype(numpy.float32)
