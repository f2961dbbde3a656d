"""Splitting a job over a provider's batch limits: at most N requests and B bytes per batch."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from inferopt.errors import InferoptError


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """The most one provider batch may hold.

    The defaults of :data:`OPENAI_LIMITS`, :data:`ANTHROPIC_LIMITS` and :data:`GEMINI_LIMITS` are the providers'
    published limits, with MB read as 10^6 bytes (the smaller reading, so a split batch is
    never refused). ``overhead_bytes`` is what the envelope adds beyond the items themselves.
    """

    max_requests: int
    max_bytes: int
    overhead_bytes: int = 0

    def __post_init__(self) -> None:
        if self.max_requests < 1 or self.max_bytes <= self.overhead_bytes:
            raise InferoptError(f"batch limits must allow at least one request and some bytes (got {self})")


OPENAI_LIMITS = BatchLimits(max_requests=50_000, max_bytes=200_000_000)
# A Message Batch is one JSON body: {"requests":[...]} plus a comma between items.
ANTHROPIC_LIMITS = BatchLimits(max_requests=100_000, max_bytes=256_000_000, overhead_bytes=64)
# Gemini's inline requests may total 20 MB per batchGenerateContent body ({"batch": {...}} wraps them).
GEMINI_LIMITS = BatchLimits(max_requests=50_000, max_bytes=20_000_000, overhead_bytes=512)


def split_encoded(items: list[tuple[str, bytes]], limits: BatchLimits, separator_bytes: int = 1) -> list[list[int]]:
    """Indices of ``items`` (``(custom_id, encoded)``) grouped into batches within ``limits``, in order.

    Each item costs its encoded length plus ``separator_bytes`` (the newline of a JSONL file,
    the comma of a JSON list). An item that alone exceeds the byte limit cannot be batched.
    """
    room = limits.max_bytes - limits.overhead_bytes
    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    for index, (custom_id, encoded) in enumerate(items):
        size = len(encoded) + separator_bytes
        if size > room:
            raise InferoptError(
                f"request {custom_id!r} alone is {size:,} bytes, over the provider's batch limit of "
                f"{limits.max_bytes:,} bytes; shorten it or send it with the realtime API"
            )
        if current and (len(current) >= limits.max_requests or used + size > room):
            groups.append(current)
            current, used = [], 0
        current.append(index)
        used += size
    if current:
        groups.append(current)
    return groups


@dataclass(frozen=True, slots=True)
class PlannedChunk:
    """One provider batch's worth of items: their ids, the bytes sent for them, and a digest of those bytes."""

    custom_ids: list[str]
    payload: bytes
    model: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()[:16]


def plan_chunks(
    items: list[tuple[str, bytes]],
    models: list[str],
    limits: BatchLimits,
    join: Callable[[list[bytes]], bytes],
) -> list[PlannedChunk]:
    """``items`` split within ``limits``, each group's encoded items joined into one payload by ``join``."""
    return [
        PlannedChunk([items[i][0] for i in group], join([items[i][1] for i in group]), models[group[0]])
        for group in split_encoded(items, limits)
    ]
