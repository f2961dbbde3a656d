"""Redis backend: entries shared by every process and replica, TTLs kept by Redis, a fill lock.

Layout under ``prefix`` (default ``inferopt:cache:``)::

    <prefix>e:<namespace>:<digest>    the entry (SET with EX when a TTL is given)
    <prefix>stats:<namespace>         hash of counters (HINCRBYFLOAT)
    <prefix>lock:<key>                single-flight fill lock (SET NX PX, value = owner token)
    <prefix>fill:<key>                pub/sub channel announcing a released lock

Waiters subscribe to the channel and block on it (no spinning); they also wake at the lock's
expiry, so a filler that died does not hold them longer than the lock's TTL.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from inferopt.cache.backend import StatsDeltas
from inferopt.parallel.limits_redis import bounded_redis

try:
    import redis.asyncio  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("the Redis cache backend needs the redis package: pip install 'inferopt[redis]'") from exc

# Delete the lock only if we still own it, then wake the waiters: atomic, so a lock that expired
# and was taken by another filler is never released by the first one.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
redis.call('PUBLISH', KEYS[2], '1')
return 1
"""


class RedisBackend:
    """Entries in Redis at ``url`` (``redis://host:port/db``); ``client`` may be injected instead."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "inferopt:cache:",
        client: Any = None,
        socket_timeout_s: float = 1.0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        # A bounded pool whose callers wait (briefly: a cache must not stall a request) instead of failing
        # past redis-py's default limit; a failed lookup would be a miss, and a miss is paid upstream again.
        self._redis: Any = client or bounded_redis(
            url, timeout_s=socket_timeout_s, pool_wait_s=2 * socket_timeout_s, what="a redis:// cache"
        )
        self._release = self._redis.register_script(_RELEASE)

    def _entry(self, key: str) -> str:
        return f"{self.prefix}e:{key}"

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self._redis.get(self._entry(key))
        return value

    async def set(self, key: str, value: bytes, ttl_s: float | None) -> None:
        if ttl_s is None:
            await self._redis.set(self._entry(key), value)
        else:
            await self._redis.set(self._entry(key), value, px=max(1, int(ttl_s * 1000)))

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._entry(key))

    async def clear(self, namespace: str | None = None) -> int:
        pattern = f"{self.prefix}e:{namespace}:*" if namespace else f"{self.prefix}e:*"
        removed = 0
        batch: list[bytes] = []
        async for key in self._redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                removed += await self._redis.delete(*batch)
                batch.clear()
        if batch:
            removed += await self._redis.delete(*batch)
        stats_pattern = f"{self.prefix}stats:{namespace}" if namespace else f"{self.prefix}stats:*"
        async for key in self._redis.scan_iter(match=stats_pattern):
            await self._redis.delete(key)
        return removed

    async def entry_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        start = len(self.prefix) + 2
        async for key in self._redis.scan_iter(match=f"{self.prefix}e:*", count=1000):
            namespace = key.decode()[start:].split(":", 1)[0]
            counts[namespace] = counts.get(namespace, 0) + 1
        return counts

    async def add_stats(self, namespace: str, deltas: StatsDeltas) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for name, value in deltas.items():
                pipe.hincrbyfloat(f"{self.prefix}stats:{namespace}", name, value)
            await pipe.execute()

    async def read_stats(self) -> dict[str, StatsDeltas]:
        out: dict[str, StatsDeltas] = {}
        start = len(f"{self.prefix}stats:")
        async for key in self._redis.scan_iter(match=f"{self.prefix}stats:*"):
            values = await self._redis.hgetall(key)
            out[key.decode()[start:]] = {k.decode(): float(v) for k, v in values.items()}
        return out

    async def acquire_fill(self, key: str, ttl_s: float) -> str | None:
        token = secrets.token_hex(8)
        acquired = await self._redis.set(f"{self.prefix}lock:{key}", token, nx=True, px=max(1, int(ttl_s * 1000)))
        return token if acquired else None

    async def release_fill(self, key: str, token: str) -> None:
        await self._release(keys=[f"{self.prefix}lock:{key}", f"{self.prefix}fill:{key}"], args=[token])

    async def wait_fill(self, key: str, timeout_s: float) -> None:
        lock = f"{self.prefix}lock:{key}"
        deadline = time.monotonic() + timeout_s
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(f"{self.prefix}fill:{key}")
            # Subscribed first, then checked: a release between the two cannot be missed.
            while True:
                remaining_ms = await self._redis.pttl(lock)
                if remaining_ms == -2:  # no lock: released (or never held)
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                # Block on the channel until a release, the lock's own expiry, or our deadline.
                wait = min(left, remaining_ms / 1000 if remaining_ms > 0 else left)
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=max(wait, 0.001))
                if message is not None:
                    return
        finally:
            await pubsub.aclose()

    async def aclose(self) -> None:
        await self._redis.aclose()
