"""``RateLimited``: hold requests to a provider's RPM, TPM and concurrency limits, per model.

Each request reserves one request from the model's RPM bucket and its estimated tokens (prompt
tokens + ``max_tokens``, or ``default_output_tokens`` when unset: providers count the maximum
too) from its TPM bucket, waits the longer of the two reservations, then runs within the model's
adaptive concurrency limit. When the answer reports actual usage, the TPM bucket is corrected by
the difference. Buckets live in this process, or in Redis (``redis_url``) so that every process
and machine shares one limit. If Redis stops answering, limiting falls back to this process with
a warning rather than stopping traffic.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from inferopt.errors import InvalidArgumentError, RateLimitedError
from inferopt.parallel.adaptive import AdaptiveConcurrency
from inferopt.parallel.token_bucket import Bucket, RedisTokenBucket, TokenBucket
from inferopt.tokens import count_request_tokens
from inferopt.types import ChatRequest, ChatResponse, Model, StreamDone, StreamEvent


def backend_down(exc: BaseException) -> bool:
    """Whether ``exc`` says a shared bucket's Redis is down. redis-py's own errors derive from neither
    OSError nor the builtin ConnectionError; they are recognised without importing redis (which
    would cost every process that never uses it some 8 MB): a RedisError exists only once redis is loaded."""
    if isinstance(exc, OSError | ConnectionError | TimeoutError):
        return True
    errors = sys.modules.get("redis.exceptions")
    return errors is not None and isinstance(exc, errors.RedisError)


log = logging.getLogger(__name__)


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
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.default = limits or Limits()
        self.per_model = dict(per_model or {})
        self.redis = redis
        self.key_prefix = key_prefix
        self._sleep = sleep
        self._limiters: dict[str, _ModelLimiter] = {}
        self.waited_s = 0.0
        self.rate_limited = 0

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

    async def _call_bucket(self, limiter: _ModelLimiter, kind: str, amount: float, reserve: bool) -> float:
        bucket: Bucket | None = getattr(limiter, kind)
        if bucket is None:
            return 0.0
        try:
            if reserve:
                return await bucket.reserve(amount)
            await bucket.adjust(amount)
            return 0.0
        except Exception as exc:
            if not backend_down(exc):
                raise
            # redis down: keep limiting, locally
            limit = limiter.limits.rpm if kind == "rpm" else limiter.limits.tpm
            assert limit is not None
            local = limiter.fallback.setdefault(kind, TokenBucket.per_minute(limit))
            log.warning("shared %s limiter unavailable (%s); limiting in this process only", kind, type(exc).__name__)
            if reserve:
                return local.reserve_now(amount)
            local.adjust_now(amount)
            return 0.0

    def estimate_tokens(self, request: ChatRequest, limits: Limits) -> int:
        output = request.max_tokens if request.max_tokens is not None else limits.default_output_tokens
        return count_request_tokens(request) + output

    async def _admit(self, request: ChatRequest) -> tuple[_ModelLimiter, int]:
        limiter = self.limiter_for(request.model)
        estimate = self.estimate_tokens(request, limiter.limits)
        wait = max(
            await self._call_bucket(limiter, "rpm", 1, True),
            await self._call_bucket(limiter, "tpm", estimate, True),
        )
        if wait > 0:
            self.waited_s += wait
            await self._sleep(wait)
        if limiter.concurrency is not None:
            await limiter.concurrency.acquire()
        return limiter, estimate

    async def _settle(self, limiter: _ModelLimiter, estimate: int, response: ChatResponse | None) -> None:
        if limiter.concurrency is not None:
            limiter.concurrency.release()
        if response is not None:
            await self._call_bucket(limiter, "tpm", estimate - response.usage.total_tokens, False)

    def _observe(self, limiter: _ModelLimiter, error: BaseException | None) -> None:
        if limiter.concurrency is None:
            return
        if isinstance(error, RateLimitedError):
            self.rate_limited += 1
            limiter.concurrency.on_rate_limited()
        elif error is None:
            limiter.concurrency.on_success()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        limiter, estimate = await self._admit(request)
        response: ChatResponse | None = None
        try:
            response = await self.inner.complete(request)
        except BaseException as error:
            self._observe(limiter, error)
            raise
        finally:
            await self._settle(limiter, estimate, response)
        self._observe(limiter, None)
        return response

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        limiter, estimate = await self._admit(request)
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
            close = getattr(upstream, "aclose", None)
            if close is not None:
                await close()
            await self._settle(limiter, estimate, final)
        self._observe(limiter, None)

    async def aclose(self) -> None:
        await self.inner.aclose()
        if self.redis is not None:
            await self.redis.aclose()


def _limits(options: Mapping[str, Any]) -> Limits:
    return replace(Limits(), **{k: v for k, v in options.items() if k in Limits.__dataclass_fields__})


def rate_limited_from_options(inner: Model, options: Mapping[str, Any]) -> RateLimited:
    """The ``rate_limit`` stack entry: ``{rpm, tpm, max_concurrency, adaptive, per_model: {m: {...}}, redis}``."""
    known = set(Limits.__dataclass_fields__) | {"per_model", "redis", "key_prefix"}
    unknown = set(options) - known
    if unknown:
        raise InvalidArgumentError(f"unknown rate_limit option(s) {sorted(unknown)}; known: {sorted(known)}")
    redis = None
    if options.get("redis"):
        try:
            import redis.asyncio as aioredis
        except ImportError as exc:
            raise InvalidArgumentError("rate_limit.redis needs the redis extra: pip install 'inferopt[redis]'") from exc
        redis = aioredis.from_url(str(options["redis"]))
    per_model = {name: _limits(spec) for name, spec in (options.get("per_model") or {}).items()}
    return RateLimited(
        inner,
        _limits(options),
        per_model=per_model,
        redis=redis,
        key_prefix=str(options.get("key_prefix", "inferopt:limits")),
    )
