"""Where a router keeps a rate-limited target's cool-down: in its process, or shared through Redis.

A 429 with ``Retry-After`` holds that target back for that long (:mod:`.attempts`). Held in the
process (:class:`LocalCooldowns`, the default), each gateway replica learns of a provider's limit by
hitting it. With a router's ``shared_cooldown: redis://...`` (:class:`RedisCooldowns`) the hold is
written to Redis under ``inferopt:cooldown:<provider>/<model>``, so every replica skips that
provider and model at once, for what is left of the wait.

Redis down: **fails open**. Each process keeps its own holds as without Redis, logs one warning when
the outage begins and one when it ends, and asks Redis again once a second; a hold made meanwhile
is not shared. A shared cool-down is an optimization: never a reason to refuse a request.
"""

from __future__ import annotations

import logging
from typing import Any

from inferopt.parallel.limits_redis import Outage, backend_down, bounded_redis

PREFIX = "inferopt:cooldown:"
_TIMEOUT_S = 0.25  # a cool-down lookup must never cost a request more than this
_log = logging.getLogger("inferopt.routing.cooldowns")

# Lengthen, never shorten: a hold already longer than this one stays.
_HOLD = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return 1
"""


class LocalCooldowns:
    """Holds as moments of the router's clock, in this process."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._unshared: dict[str, float] = {}

    def held_for(self, key: str, now: float) -> float:
        """Seconds ``key`` is still held back (0 when it is free)."""
        return max(0.0, self._until.get(key, now) - now)

    def hold(self, key: str, seconds: float, now: float) -> None:
        self.mirror(key, seconds, now)
        self._unshared[key] = max(self._unshared.get(key, 0.0), seconds)

    def mirror(self, key: str, seconds: float, now: float) -> None:
        """Hold ``key`` here only (a hold another process made, or this one's own)."""
        self._until[key] = max(self._until.get(key, now), now + seconds)

    async def sync(self, keys: list[str], now: float) -> None:
        """Share the holds made since the last sync and learn the others' (a no-op in-process)."""
        self._unshared.clear()

    async def aclose(self) -> None:
        return None


class RedisCooldowns(LocalCooldowns):
    """Holds shared through Redis by every process that points at it (see the module docstring)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._redis: Any = bounded_redis(url, timeout_s=_TIMEOUT_S, what="shared_cooldown")
        self.outage = Outage(f"the shared cool-downs' Redis ({_where(url)})", _log)

    async def sync(self, keys: list[str], now: float) -> None:
        if not self.outage.should_try():
            return
        unshared, self._unshared = self._unshared, {}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, seconds in unshared.items():
                    pipe.eval(_HOLD, 1, PREFIX + key, max(1, round(seconds * 1000)))
                for key in keys:
                    pipe.pttl(PREFIX + key)
                replies = await pipe.execute()
        except Exception as exc:
            if not backend_down(exc):
                raise
            self.outage.failed(exc, "each process keeps its own cool-downs until it is back")
            return
        self.outage.succeeded()
        for key, left_ms in zip(keys, replies[len(unshared) :], strict=True):
            if isinstance(left_ms, int) and left_ms > 0:
                self.mirror(key, left_ms / 1000, now)

    async def aclose(self) -> None:
        await self._redis.aclose()


def cooldowns_for(url: str | None) -> LocalCooldowns:
    """The store a router's ``shared_cooldown`` names (None: in the process)."""
    return RedisCooldowns(url) if url else LocalCooldowns()


def _where(url: str) -> str:
    """Host and port of a Redis URL, never its password."""
    rest = url.split("://", 1)[-1].rsplit("@", 1)[-1]
    return rest.split("/", 1)[0]
