"""Per-minute request and token limits, per API key and model, and the headers that report them.

Each limit is a **token bucket** holding a minute's allowance and refilling continuously
(``limit / 60`` per second): a burst of up to the whole minute's allowance passes, then requests
pass at the sustained rate. Anthropic documents its limits this way; OpenAI's per-minute limits
behave the same at this granularity. A request is charged one request and, for TPM, its prompt
tokens plus ``max_tokens`` (the output it may produce, as OpenAI reserves it; without
``max_tokens``, the length it will actually get). A request is admitted only when both buckets
can pay; a refused request pays nothing.

A fault-injected 429 burst blocks a key and model until a time (:meth:`RateLimiter.block`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Header = tuple[bytes, bytes]
WINDOW_S = 60.0


class EmulatedTokenBucket:
    """A bucket of ``capacity`` units refilled at ``capacity / 60`` per second."""

    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, capacity: int, now: float) -> None:
        self.capacity = float(capacity)
        self.rate = capacity / WINDOW_S
        self.level = float(capacity)
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def wait_s(self, amount: float) -> float:
        """Seconds until ``amount`` units are available (0 if they are)."""
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate

    def full_in_s(self) -> float:
        return (self.capacity - self.level) / self.rate


@dataclass(frozen=True, slots=True)
class LimitState:
    """One limit as reported in headers: the limit, what remains, seconds until fully reset."""

    limit: int
    remaining: int
    reset_s: float


@dataclass(frozen=True, slots=True)
class LimitDecision:
    """Whether a request may proceed; if not, which limit and when to retry."""

    allowed: bool
    exceeded: Literal["", "requests", "tokens", "burst"] = ""
    retry_after_s: float = 0.0
    requests: LimitState | None = None
    tokens: LimitState | None = None
    too_large: bool = False  # the request alone needs more tokens than a minute allows


ALLOWED_UNLIMITED = LimitDecision(allowed=True)


class RateLimiter:
    """All buckets of one emulator, keyed by (tenant, model)."""

    def __init__(self) -> None:
        self._requests: dict[tuple[bytes, str], EmulatedTokenBucket] = {}
        self._tokens: dict[tuple[bytes, str], EmulatedTokenBucket] = {}
        self._blocked_until: dict[tuple[bytes, str], float] = {}

    def block(self, tenant: bytes, model: str, until: float) -> None:
        """Refuse every request of this key and model until ``until`` (a 429 burst)."""
        key = (tenant, model)
        self._blocked_until[key] = max(until, self._blocked_until.get(key, 0.0))

    def check(
        self, tenant: bytes, model: str, rpm: int | None, tpm: int | None, tokens: int, now: float
    ) -> LimitDecision:
        """Admit (and charge) the request, or say which limit refuses it and for how long."""
        key = (tenant, model)
        blocked = self._blocked_until.get(key)
        if blocked is not None:
            if now < blocked:
                return LimitDecision(False, "burst", blocked - now)
            del self._blocked_until[key]
        if rpm is None and tpm is None:
            return ALLOWED_UNLIMITED
        req = self._bucket(self._requests, key, rpm, now)
        tok = self._bucket(self._tokens, key, tpm, now)
        if tok is not None and tokens > tok.capacity:
            return LimitDecision(False, "tokens", WINDOW_S, _state(req), _state(tok), too_large=True)
        wait_req = req.wait_s(1) if req is not None else 0.0
        wait_tok = tok.wait_s(tokens) if tok is not None else 0.0
        if wait_req > 0 or wait_tok > 0:
            exceeded: Literal["requests", "tokens"] = "requests" if wait_req >= wait_tok else "tokens"
            return LimitDecision(False, exceeded, max(wait_req, wait_tok), _state(req), _state(tok))
        if req is not None:
            req.level -= 1
        if tok is not None:
            tok.level -= tokens
        return LimitDecision(True, requests=_state(req), tokens=_state(tok))

    @staticmethod
    def _bucket(
        buckets: dict[tuple[bytes, str], EmulatedTokenBucket], key: tuple[bytes, str], limit: int | None, now: float
    ) -> EmulatedTokenBucket | None:
        if limit is None:
            return None
        bucket = buckets.get(key)
        if bucket is None or bucket.capacity != limit:
            bucket = buckets[key] = EmulatedTokenBucket(limit, now)
        bucket.refill(now)
        return bucket


def _state(bucket: EmulatedTokenBucket | None) -> LimitState | None:
    if bucket is None:
        return None
    return LimitState(int(bucket.capacity), max(0, int(bucket.level)), bucket.full_in_s())


def retry_after_headers(seconds: float) -> list[Header]:
    """``retry-after`` (whole seconds, rounded up, at least 1) and ``retry-after-ms``."""
    return [
        (b"retry-after", str(max(1, math.ceil(seconds))).encode()),
        (b"retry-after-ms", str(max(1, math.ceil(seconds * 1000))).encode()),
    ]


def openai_headers(decision: LimitDecision) -> list[Header]:
    """``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` as OpenAI sends them."""
    out: list[Header] = []
    for kind, state in (("requests", decision.requests), ("tokens", decision.tokens)):
        if state is not None:
            out.append((f"x-ratelimit-limit-{kind}".encode(), str(state.limit).encode()))
            out.append((f"x-ratelimit-remaining-{kind}".encode(), str(state.remaining).encode()))
            out.append((f"x-ratelimit-reset-{kind}".encode(), duration_text(state.reset_s).encode()))
    return out


def anthropic_headers(decision: LimitDecision, wall_now: float) -> list[Header]:
    """``anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`` (reset in RFC 3339)."""
    out: list[Header] = []
    for kind, state in (("requests", decision.requests), ("tokens", decision.tokens)):
        if state is not None:
            reset = datetime.fromtimestamp(wall_now + state.reset_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            out.append((f"anthropic-ratelimit-{kind}-limit".encode(), str(state.limit).encode()))
            out.append((f"anthropic-ratelimit-{kind}-remaining".encode(), str(state.remaining).encode()))
            out.append((f"anthropic-ratelimit-{kind}-reset".encode(), reset.encode()))
    return out


def duration_text(seconds: float) -> str:
    """OpenAI's reset format: ``12ms``, ``1.5s``, ``6m0s``."""
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{round(rest, 3):g}s"
