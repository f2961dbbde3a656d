"""Cheap text features for routers: hashed words and word pairs, tf-idf weighted, unit length.

No model, no network, no vocabulary file: a word's column is ``crc32(word) % dims`` and a word
pair's column mixes its two words' hashes, so the same text gives the same features in every
process. Only the last ``tail_chars`` characters are read: in few-shot prompts the question that
decides the routing comes last, and it bounds the time a router spends per request.

The work per text is one regex pass, one ``crc32`` per word and a handful of numpy calls (pairs,
counts and weights are vectorised): tens of microseconds for a 600-character tail.
"""

from __future__ import annotations

import re
import zlib
from typing import TYPE_CHECKING, Any

from inferopt.errors import InferoptError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

_WORD = re.compile(r"[a-z0-9]+")
DEFAULT_DIMS = 1 << 13
# 600 characters hold the question of a few-shot prompt (RouterBench's ARC and Winogrande questions,
# MMLU's); reading more cost time and did not route better (RouterBench and MMLU, 3 seeds each).
DEFAULT_TAIL_CHARS = 600
# Mixes the two words' hashes of a pair (a 64-bit odd multiplier: pairs (a, b) and (b, a) differ).
_PAIR_MULTIPLIER = 0x9E3779B97F4A7C15
_MASK_64 = (1 << 64) - 1

Features = tuple["NDArray[np.int64]", "NDArray[np.float32]"]


def require_numpy() -> Any:
    """The numpy module, or a clear error saying which extra installs it."""
    try:
        import numpy
    except ImportError:  # pragma: no cover - depends on the environment
        raise InferoptError("learned routing needs numpy: pip install 'inferopt[routing]'") from None
    return numpy


def hashed_features(text: str, dims: int = DEFAULT_DIMS, tail_chars: int = DEFAULT_TAIL_CHARS) -> Features:
    """Sorted columns and ``log(1 + count)`` of the text's words and adjacent word pairs."""
    np = require_numpy()
    words = _WORD.findall(text[-tail_chars:].lower())
    if not words:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    hashes = np.fromiter((zlib.crc32(w.encode()) for w in words), dtype=np.uint64, count=len(words))
    with np.errstate(over="ignore"):  # the pair mix wraps around 64 bits on purpose
        pairs = hashes[:-1] * np.uint64(_PAIR_MULTIPLIER & _MASK_64) + hashes[1:]
    tokens = np.concatenate((hashes, pairs ^ (pairs >> np.uint64(29)))) % np.uint64(dims)
    columns, counts = np.unique(tokens, return_counts=True)
    return columns.astype(np.int64), np.log1p(counts).astype(np.float32)


def hashed_counts(text: str, dims: int = DEFAULT_DIMS, tail_chars: int = DEFAULT_TAIL_CHARS) -> dict[int, float]:
    """:func:`hashed_features` as a ``{column: value}`` dict."""
    columns, values = hashed_features(text, dims, tail_chars)
    return dict(zip(columns.tolist(), values.tolist(), strict=True))


def weighted_unit(features: Features, idf: NDArray[np.float32] | None) -> Features:
    """The features after idf weighting, scaled to unit length (cosine similarity = dot product)."""
    np = require_numpy()
    columns, values = features
    if idf is not None:
        values = values * idf[columns]
    norm = float(np.sqrt(values @ values)) or 1.0
    return columns, (values / norm).astype(np.float32)


def inverse_document_frequency(documents: list[Features], dims: int) -> NDArray[np.float32]:
    """Smoothed idf per column: ``log((1 + n) / (1 + df)) + 1`` (scikit-learn's convention)."""
    numpy = require_numpy()
    df = numpy.zeros(dims, dtype=numpy.int64)
    for columns, _ in documents:
        df[columns] += 1
    n = len(documents)
    idf: NDArray[np.float32] = (numpy.log((1 + n) / (1 + df)) + 1.0).astype(numpy.float32)
    return idf
