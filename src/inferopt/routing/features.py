"""Cheap text features for routers: hashed words and word pairs, tf-idf weighted, unit length.

No model, no network, no vocabulary file: a token's column is ``crc32(token) % dims``, so the
same text gives the same features in every process. Only the last ``tail_chars`` characters are
read: in few-shot prompts the question that decides the routing comes last, and it bounds the
time a router spends per request.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib

_WORD = re.compile(r"[a-z0-9]+")
DEFAULT_DIMS = 1 << 13
DEFAULT_TAIL_CHARS = 1000


def hashed_counts(text: str, dims: int = DEFAULT_DIMS, tail_chars: int = DEFAULT_TAIL_CHARS) -> dict[int, float]:
    """Column -> log(1 + count) of the text's words and adjacent word pairs."""
    words = _WORD.findall(text[-tail_chars:].lower())
    counts: dict[int, float] = {}
    for token in (*words, *(a + " " + b for a, b in itertools.pairwise(words))):
        column = zlib.crc32(token.encode()) % dims
        counts[column] = counts.get(column, 0.0) + 1.0
    return {c: math.log1p(n) for c, n in counts.items()}


def weighted_unit(counts: dict[int, float], idf: list[float] | None) -> tuple[list[int], list[float]]:
    """Columns and values after idf weighting, scaled to unit length (cosine similarity = dot product)."""
    columns = sorted(counts)
    values = [counts[c] * (idf[c] if idf is not None else 1.0) for c in columns]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return columns, [v / norm for v in values]


def inverse_document_frequency(documents: list[dict[int, float]], dims: int) -> list[float]:
    """Smoothed idf per column: ``log((1 + n) / (1 + df)) + 1`` (scikit-learn's convention)."""
    df = [0] * dims
    for doc in documents:
        for column in doc:
            df[column] += 1
    n = len(documents)
    return [math.log((1 + n) / (1 + d)) + 1.0 for d in df]
