"""The record of one request: what was asked, what served it, how long it took, what it cost.

One flat row per request, so every sink (SQLite, JSONL, Prometheus, OpenTelemetry) and every
report reads the same fields. ``cost_usd`` is what was paid (0 for a cache hit); ``saved_usd`` is
what a cache hit would have cost had it gone to the provider. ``error`` is the exception's class
name (``RateLimitedError``), never its message, so no prompt text or key can leak into records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

SCHEMA_VERSION = 1


@dataclass(slots=True)
class RequestRecord:
    """One request as recorded by :class:`~inferopt.monitor.metered.Metered`."""

    request_id: str
    timestamp: float  # wall-clock seconds since the epoch, when the request started
    model_requested: str
    model_served: str = ""
    provider: str = ""
    latency_s: float | None = None
    ttft_s: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float | None = None
    saved_usd: float = 0.0
    cache: str = ""  # "" (no cache in the stack), "miss", "exact" or "semantic"
    route: str = ""
    retries: int = 0
    error: str = ""  # exception class name; "" when the request succeeded
    tenant: str = ""
    key_id: str = ""
    streamed: bool = False
    emulated: bool = False
    dropped_params: str = ""  # parameters the target model could not take, dropped (comma-separated)
    limiter: str = ""  # "local" when the shared (Redis) rate limiter was down and this process's buckets limited

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def cache_hit(self) -> bool:
        return self.cache in ("exact", "semantic")

    @property
    def cache_eligible(self) -> bool:
        """Whether the request went through a cache that could have answered it (not bypassed)."""
        return self.cache not in ("", "bypass")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        """A record from a stored row; unknown keys (written by a newer version) are ignored."""
        known = {f.name for f in fields(cls)}
        row = {k: v for k, v in data.items() if k in known}
        for flag in ("streamed", "emulated"):
            if flag in row:
                row[flag] = bool(row[flag])
        return cls(**row)


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RequestRecord))
