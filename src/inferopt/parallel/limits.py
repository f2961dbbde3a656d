"""``RateLimited``: hold requests to a provider's RPM, TPM and concurrency limits, per model.

Each request reserves one request from the model's RPM bucket and its estimated tokens (prompt
tokens + ``max_tokens``, or ``default_output_tokens`` when unset: providers count the maximum
too) from its TPM bucket, waits the longer of the two reservations, then runs within the model's
adaptive concurrency limit. When the answer reports actual usage, the TPM bucket is corrected by
the difference. Buckets live in this process, or in Redis (``redis_url``) so that every process
and machine shares one limit.

If Redis stops answering (down at start, down mid-run), limiting **fails open** by default
(``on_redis_down="local"``): each process keeps limiting with its own in-process buckets (same
limits: N processes may then send up to N times the limit), logs one warning when the outage
begins and one when it ends, marks each answer it let through this way with the annotation
``limiter: "local"`` (the gateway's ``x-inferopt-limiter`` header and its
``inferopt_gateway_limiter_local_total`` metric), counts them in ``local_admissions``, and asks
Redis again once a second, so it goes back to the shared limit as soon as Redis is back.
``on_redis_down="closed"`` refuses instead, with :class:`~inferopt.errors.StoreUnavailableError`
(a 503 with ``Retry-After`` at the gateway), for whom a provider's limit must never be exceeded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from inferopt.errors import InvalidArgumentError, RateLimitedError, StoreUnavailableError
from inferopt.parallel.adaptive import AdaptiveConcurrency
from inferopt.parallel.limits_redis import Outage, backend_down, bounded_redis
from inferopt.parallel.token_bucket import Bucket, RedisTokenBucket, TokenBucket
from inferopt.tokens import count_request_tokens
from inferopt.types import ChatRequest, ChatResponse, Model, StreamDone, StreamEvent, close_stream

log = logging.getLogger(__name__)
ON_REDIS_DOWN = ("local", "closed")
LOCAL = "local"  # the annotation value of an answer limited in this process only
__all__ = ["Limits", "RateLimited", "backend_down", "rate_limited_from_options"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits of one model (None = unlimited). ``adaptive`` lets concurrency back off on 429s."""

    rpm: float | None = None
    tpm: float | None = None
    max_concurrency: int | None = None
    adaptive: bool = True
    default_output_tokens: int = 512


@dataclass
class _ModelLimiter:
    rpm: Bucket | None
    tpm: Bucket | None
    concurrency: AdaptiveConcurrency | None
    limits: Limits
    fallback: dict[str, TokenBucket] = field(default_factory=dict)


class RateLimited:
    """A Model that keeps its inner Model within per-model RPM/TPM/concurrency limits."""

    def __init__(
        self,
        inner: Model,
        limits: Limits | None = None,
        *,
        per_model: Mapping[str, Limits] | None = None,
        redis: Any = None,
        key_prefix: str = "inferopt:limits",
        on_redis_down: str = "local",
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if on_redis_down not in ON_REDIS_DOWN:
            raise InvalidArgumentError(f"on_redis_down={on_redis_down!r}: use 'local' (fail open) or 'closed'")
        self.inner = inner
        self.default = limits or Limits()
        self.per_model = dict(per_model or {})
        self.redis = redis
        self.key_prefix = key_prefix
        self._sleep = sleep
        self._limiters: dict[str, _ModelLimiter] = {}
        self.waited_s = 0.0
        self.rate_limited = 0
        self.on_redis_down = on_redis_down
        self.local_admissions = 0  # requests let through by this process's buckets while Redis was down
        self.outage = Outage("shared rate limiter (Redis)", log, clock=clock)

    def limiter_for(self, model: str) -> _ModelLimiter:
        limiter = self._limiters.get(model)
        if limiter is None:
            limits = self.per_model.get(model, self.default)
            limiter = self._limiters[model] = _ModelLimiter(
                rpm=self._bucket(model, "rpm", limits.rpm),
                tpm=self._bucket(model, "tpm", limits.tpm),
                concurrency=(
                    AdaptiveConcurrency(limits.max_concurrency, adaptive=limits.adaptive)
                    if limits.max_concurrency
                    else None
                ),
                limits=limits,
            )
        return limiter

    def _bucket(self, model: str, kind: str, limit: float | None) -> Bucket | None:
        if limit is None:
            return None
        if self.redis is not None:
            return RedisTokenBucket.per_minute(self.redis, f"{self.key_prefix}:{model}:{kind}", limit)
        return TokenBucket.per_minute(limit)

    async def _call_bucket(self, limiter: _ModelLimiter, kind: str, amount: float, reserve: bool) -> tuple[float, bool]:
        """The wait of a reservation (0 after an adjust), and whether Redis was down so it ran locally."""
        bucket: Bucket | None = getattr(limiter, kind)
        if bucket is None:
            return 0.0, False
        shared = isinstance(bucket, RedisTokenBucket)
        if not shared or self.outage.should_try():
            try:
                wait = await bucket.reserve(amount) if reserve else 0.0
                if not reserve:
                    await bucket.adjust(amount)
            except Exception as exc:
                if not shared or not backend_down(exc):
                    raise
                fallback = "limiting in each process only" if self.on_redis_down == LOCAL else "refusing requests"
                self.outage.failed(exc, f"{fallback} until it is back (rate_limit.on_redis_down={self.on_redis_down})")
            else:
                if shared:
                    self.outage.succeeded()
                return wait, False
        if reserve and self.on_redis_down != LOCAL:
            raise StoreUnavailableError(
                "the shared rate limiter's Redis is not answering and rate_limit.on_redis_down is 'closed', so "
                "nothing was sent upstream. Retry in a few seconds; operator: start Redis, or set "
                "on_redis_down: local to limit in each process meanwhile",
                store="rate_limit",
                retry_after_s=max(1.0, self.outage.retry_s),
            )
        limit = limiter.limits.rpm if kind == "rpm" else limiter.limits.tpm
        assert limit is not None
        local = limiter.fallback.setdefault(kind, TokenBucket.per_minute(limit))
        if reserve:
            return local.reserve_now(amount), True
        local.adjust_now(amount)
        return 0.0, True

    def estimate_tokens(self, request: ChatRequest, limits: Limits) -> int:
        output = request.max_tokens if request.max_tokens is not None else limits.default_output_tokens
        return count_request_tokens(request) + output

    async def _admit(self, request: ChatRequest) -> tuple[_ModelLimiter, int, bool]:
        limiter = self.limiter_for(request.model)
        return await self.admit(limiter, self.estimate_tokens(request, limiter.limits))

    async def admit(self, limiter: _ModelLimiter, estimate: int) -> tuple[_ModelLimiter, int, bool]:
        """Wait until one request of ``estimate`` tokens fits ``limiter``'s buckets (and a concurrency slot).

        Returns what :meth:`settle` needs; the third item is True when Redis was down and this process's
        own buckets admitted it. Any call that costs requests and tokens can use it (embeddings do)."""
        rpm_wait, rpm_local = await self._call_bucket(limiter, "rpm", 1, True)
        tpm_wait, tpm_local = await self._call_bucket(limiter, "tpm", estimate, True)
        wait = max(rpm_wait, tpm_wait)
        if wait > 0:
            self.waited_s += wait
            await self._sleep(wait)
        if limiter.concurrency is not None:
            await limiter.concurrency.acquire()
        local = rpm_local or tpm_local
        self.local_admissions += local
        return limiter, estimate, local

    async def _settle(self, limiter: _ModelLimiter, estimate: int, response: ChatResponse | None, local: bool) -> None:
        await self.settle(limiter, estimate, None if response is None else response.usage.total_tokens)
        if response is not None and local:  # the record says so: this answer was limited in this process only
            response.annotations["limiter"] = LOCAL

    async def settle(self, limiter: _ModelLimiter, estimate: int, used_tokens: int | None) -> None:
        """Free the concurrency slot and give back what the estimate over-reserved (None: the call failed)."""
        if limiter.concurrency is not None:
            limiter.concurrency.release()
        if used_tokens is not None:
            await self._call_bucket(limiter, "tpm", estimate - used_tokens, False)

    def _observe(self, limiter: _ModelLimiter, error: BaseException | None) -> None:
        if limiter.concurrency is None:
            return
        if isinstance(error, RateLimitedError):
            self.rate_limited += 1
            limiter.concurrency.on_rate_limited()
        elif error is None:
            limiter.concurrency.on_success()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        limiter, estimate, local = await self._admit(request)
        response: ChatResponse | None = None
        try:
            response = await self.inner.complete(request)
        except BaseException as error:
            self._observe(limiter, error)
            raise
        finally:
            await self._settle(limiter, estimate, response, local)
        self._observe(limiter, None)
        return response

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        limiter, estimate, local = await self._admit(request)
        final: ChatResponse | None = None
        upstream = self.inner.stream(request)
        try:
            async for event in upstream:
                if isinstance(event, StreamDone):
                    final = event.response
                yield event
        except BaseException as error:
            self._observe(limiter, error)
            raise
        finally:
            await close_stream(upstream)
            await self._settle(limiter, estimate, final, local)
        self._observe(limiter, None)

    async def aclose(self) -> None:
        await self.inner.aclose()
        if self.redis is not None:
            await self.redis.aclose()


def _limits(options: Mapping[str, Any]) -> Limits:
    return replace(Limits(), **{k: v for k, v in options.items() if k in Limits.__dataclass_fields__})


def rate_limited_from_options(inner: Model, options: Mapping[str, Any]) -> RateLimited:
    """The ``rate_limit`` stack entry: ``{rpm, tpm, max_concurrency, adaptive, per_model: {m: {...}}, redis,
    on_redis_down: local | closed}``."""
    known = set(Limits.__dataclass_fields__) | {"per_model", "redis", "key_prefix", "on_redis_down"}
    unknown = set(options) - known
    if unknown:
        raise InvalidArgumentError(f"unknown rate_limit option(s) {sorted(unknown)}; known: {sorted(known)}")
    redis = bounded_redis(str(options["redis"]), what="rate_limit.redis") if options.get("redis") else None
    per_model = {name: _limits(spec) for name, spec in (options.get("per_model") or {}).items()}
    return RateLimited(
        inner,
        _limits(options),
        per_model=per_model,
        redis=redis,
        key_prefix=str(options.get("key_prefix", "inferopt:limits")),
        on_redis_down=str(options.get("on_redis_down", LOCAL)),
    )
