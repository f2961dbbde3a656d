"""Token buckets that *reserve*: take the tokens now, wait exactly until they would have existed.

``reserve(amount)`` subtracts ``amount`` at once (the balance may go negative: a debt) and returns
how long the caller must wait before it may act: ``debt / rate``. Later callers queue behind the
debt automatically, so order is first-come-first-served, and nobody polls or sleeps in a loop: one
computed wait per request (GCRA's idea, as in many production limiters).

Why the rate is ``(limit - burst) / 60``: a bucket that starts full (``burst`` tokens) and refills
at ``rate`` grants at most ``burst + rate * 60`` in any 60-second window. Providers count limits
per minute, so choosing ``rate = (limit - burst) / 60`` makes every 60-second window hold at most
``limit`` exactly, while sustaining ``1 - burst/limit`` of the limit (98% with the default 2%
burst).

``adjust(delta)`` gives tokens back (positive) or charges more (negative): TPM is reserved by
estimate (prompt tokens + max_tokens) and corrected once the provider reports actual usage.

:class:`RedisTokenBucket` keeps the same state in Redis and runs the same arithmetic in one Lua
script, so N processes share one limit atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from inferopt.errors import InvalidArgumentError

PER_MINUTE = 60.0
DEFAULT_BURST_FRACTION = 0.02


def per_minute_bucket_params(
    limit_per_minute: float, burst_fraction: float = DEFAULT_BURST_FRACTION
) -> tuple[float, float]:
    """(rate per second, capacity) so that no 60 s window exceeds ``limit_per_minute``."""
    if limit_per_minute <= 0:
        raise InvalidArgumentError("a per-minute limit must be positive")
    burst = max(1.0, limit_per_minute * burst_fraction)
    burst = min(burst, limit_per_minute / 2)  # tiny limits: keep most of the allowance as steady rate
    return (limit_per_minute - burst) / PER_MINUTE, burst


class Bucket(Protocol):
    async def reserve(self, amount: float) -> float: ...

    async def adjust(self, delta: float) -> None: ...


class TokenBucket:
    """An in-process reserving token bucket (see the module docstring)."""

    def __init__(self, rate_per_s: float, capacity: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or capacity <= 0:
            raise InvalidArgumentError("rate and capacity must be positive")
        self.rate = rate_per_s
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._updated = clock()

    @classmethod
    def per_minute(cls, limit: float, clock: Callable[[], float] = time.monotonic) -> TokenBucket:
        rate, capacity = per_minute_bucket_params(limit)
        return cls(rate, capacity, clock)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def reserve_now(self, amount: float) -> float:
        """Take ``amount``; return the seconds to wait before acting (0 if available now)."""
        self._refill()
        self._tokens -= amount
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def adjust_now(self, delta: float) -> None:
        self._refill()
        self._tokens = min(self.capacity, self._tokens + delta)

    async def reserve(self, amount: float) -> float:
        return self.reserve_now(amount)

    async def adjust(self, delta: float) -> None:
        self.adjust_now(delta)

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens


# KEYS[1] = bucket hash; ARGV = rate, capacity, amount (negative = give back), ttl_ms, reserve(1)/adjust(0).
# Uses the Redis server's clock (TIME) so processes with skewed clocks still agree.
_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil then tokens = capacity; updated = now end
tokens = math.min(capacity, tokens + (now - updated) * rate)
tokens = math.min(capacity, tokens - amount)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if tokens >= 0 then return '0' end
return tostring(-tokens / rate)
"""


class RedisTokenBucket:
    """The same reserving bucket, shared by every process that uses the same Redis key."""

    def __init__(self, redis: Any, key: str, rate_per_s: float, capacity: float) -> None:
        self.redis = redis
        self.key = key
        self.rate = rate_per_s
        self.capacity = capacity
        self._script = redis.register_script(_LUA)
        # Keep the key long enough to remember a full refill, then let Redis forget idle buckets.
        self._ttl_ms = int(max(60.0, capacity / rate_per_s * 2) * 1000)

    @classmethod
    def per_minute(cls, redis: Any, key: str, limit: float) -> RedisTokenBucket:
        rate, capacity = per_minute_bucket_params(limit)
        return cls(redis, key, rate, capacity)

    async def _run(self, amount: float) -> float:
        result = await self._script(keys=[self.key], args=[self.rate, self.capacity, amount, self._ttl_ms])
        return float(result)

    async def reserve(self, amount: float) -> float:
        return await self._run(amount)

    async def adjust(self, delta: float) -> None:
        await self._run(-delta)
