"""Virtual keys in Redis: one budget and one RPM/TPM per key across every gateway worker and replica.

Layout (``prefix`` defaults to ``inferopt:gw:``)::

    <prefix>key:<sha256 of secret>   JSON of the key's settings
    <prefix>keys                     hash: key id -> sha256 of its secret (for listing and revoking)
    <prefix>spend:<key id>           hash {spent, reserved} in USD (HINCRBYFLOAT)
    <prefix>win:<key id>:<minute>    hash {requests, tokens}, expires after two minutes

``admit`` is one Lua script (check budget, RPM and TPM, then reserve), so it is atomic however many
gateways share the Redis; ``settle`` is another, and the rest are single commands or pipelines: one
round trip each, over a bounded pool whose callers wait for a connection rather than fail
(:func:`~inferopt.parallel.limits_redis.bounded_redis`). Needs the ``redis`` extra
(``pip install 'inferopt[redis]'``).

Key definitions are cached in the process for ``lookup_ttl_s`` (half a second), so a key revoked on
one replica stops working on every replica within that time.

Outages fail closed: with Redis down, a keyed call cannot be checked nor its budget reserved, so it
is refused with :class:`~inferopt.errors.StoreUnavailableError` (the gateway's 503 with
``Retry-After``), nothing charged, nothing sent upstream. A settle that cannot reach Redis is kept
and sent with the next admit once Redis answers, so a reservation is never forgotten (until then it
still counts against the budget: the budget is never overspent).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from inferopt.errors import StoreUnavailableError
from inferopt.gateway.keys import (
    WINDOW_S,
    Reservation,
    VirtualKey,
    check_new_key,
    hash_secret,
    new_key_id,
    new_secret,
    over_budget,
    over_rate,
    window_of,
)
from inferopt.parallel.limits_redis import Outage, backend_down, bounded_redis

log = logging.getLogger("inferopt.gateway")
T = TypeVar("T")

# Returns {status, spent, reserved}: 0 admitted, 1 over budget, 2 over RPM, 3 over TPM.
# Numbers go back as strings: Redis would truncate Lua floats to integers.
_ADMIT = """
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local budget, usd = tonumber(ARGV[1]), tonumber(ARGV[2])
if budget >= 0 and spent + reserved + usd > budget then return {1, tostring(spent), tostring(reserved)} end
local rpm, tpm, tokens = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local used_requests = tonumber(redis.call('HGET', KEYS[2], 'requests') or '0')
local used_tokens = tonumber(redis.call('HGET', KEYS[2], 'tokens') or '0')
if rpm >= 0 and used_requests + 1 > rpm then return {2, tostring(spent), tostring(reserved)} end
if tpm >= 0 and used_tokens + tokens > tpm then return {3, tostring(spent), tostring(reserved)} end
redis.call('HINCRBYFLOAT', KEYS[1], 'reserved', ARGV[2])
redis.call('HINCRBY', KEYS[2], 'requests', 1)
redis.call('HINCRBY', KEYS[2], 'tokens', tokens)
redis.call('EXPIRE', KEYS[2], ARGV[6])
return {0, tostring(spent), tostring(reserved)}
"""
_SETTLE = """
local reserved = tonumber(redis.call('HINCRBYFLOAT', KEYS[1], 'reserved', '-' .. ARGV[1]))
if reserved < 0 then redis.call('HSET', KEYS[1], 'reserved', '0') end
redis.call('HINCRBYFLOAT', KEYS[1], 'spent', ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then
  local tokens = redis.call('HINCRBY', KEYS[2], 'tokens', ARGV[3])
  if tokens < 0 then redis.call('HSET', KEYS[2], 'tokens', '0') end
end
return 0
"""


def _encode(key: VirtualKey) -> str:
    data: dict[str, Any] = {
        "id": key.id,
        "name": key.name,
        "budget_usd": key.budget_usd,
        "rpm": key.rpm,
        "tpm": key.tpm,
        "models": sorted(key.models) if key.models is not None else None,
        "cache_namespace": key.cache_namespace,
    }
    return json.dumps(data)


def _decode(raw: bytes | str) -> VirtualKey:
    data = json.loads(raw)
    models = data.get("models")
    return VirtualKey(
        id=data["id"],
        name=data["name"],
        budget_usd=data.get("budget_usd"),
        rpm=data.get("rpm"),
        tpm=data.get("tpm"),
        models=frozenset(models) if models is not None else None,
        cache_namespace=data.get("cache_namespace"),
    )


class RedisKeyStore:
    """Keys, spend and windows in Redis (``redis.asyncio``), shared by every gateway process."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "inferopt:gw:",
        lookup_ttl_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        client: Any = None,
        max_connections: int = 64,
    ) -> None:
        if client is None:
            client = bounded_redis(url, max_connections=max_connections, what="a redis:// key store")
        self._redis = client
        self.prefix = prefix
        self._admit = client.register_script(_ADMIT)
        self._settle = client.register_script(_SETTLE)
        self._ttl = lookup_ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, VirtualKey | None]] = {}
        parts = urlsplit(url)  # host and port only: a password in the URL never reaches a log or a caller
        self.where = f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else url.split("@")[-1]
        self.outage = Outage(f"key store (Redis at {self.where})", log, clock=clock)
        self._unsettled: list[tuple[list[str], list[Any]]] = []

    def _unavailable(self, exc: BaseException | None) -> StoreUnavailableError:
        cause = f" ({type(exc).__name__})" if exc is not None else ""
        return StoreUnavailableError(
            f"the gateway's key store (Redis at {self.where}) is not answering{cause}, so this key's limits "
            "cannot be checked; nothing was charged. Retry in a few seconds; gateway operator: start Redis "
            "or point --keys at one that answers",
            store="keys",
            retry_after_s=max(1.0, self.outage.retry_s),
        )

    async def _guarded(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, with an outage told as :class:`StoreUnavailableError` (and not retried for a second)."""
        if not self.outage.should_try():
            raise self._unavailable(None)
        try:
            result = await call()
        except Exception as exc:
            if not backend_down(exc):
                raise
            self.outage.failed(exc, "keyed calls answer 503 until it is back")
            raise self._unavailable(exc) from None
        self.outage.succeeded()
        return result

    async def lookup(self, secret: str) -> VirtualKey | None:
        digest = hash_secret(secret)
        cached = self._cache.get(digest)
        now = self._clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        raw = await self._guarded(lambda: self._redis.get(f"{self.prefix}key:{digest}"))
        key = _decode(raw) if raw is not None else None
        self._cache[digest] = (now + self._ttl, key)
        return key

    def _keys_of(self, key_id: str, window: int) -> list[str]:
        return [f"{self.prefix}spend:{key_id}", f"{self.prefix}win:{key_id}:{window}"]

    async def admit(self, key: VirtualKey, usd: float, tokens: int, now: float) -> Reservation:
        window = window_of(now)
        args = [
            repr(key.budget_usd if key.budget_usd is not None else -1.0),
            repr(usd),
            key.rpm if key.rpm is not None else -1,
            key.tpm if key.tpm is not None else -1,
            tokens,
            2 * WINDOW_S,
        ]
        keys = self._keys_of(key.id, window)
        status, spent, reserved = await self._guarded(lambda: self._admit_after_unsettled(keys, args))
        if status == 1:
            raise over_budget(key, float(spent), float(reserved), usd)
        if status == 2:
            raise over_rate(key, "requests", key.rpm or 0, now)
        if status == 3:
            raise over_rate(key, "tokens", key.tpm or 0, now)
        return Reservation(key.id, usd, tokens, window)

    async def _admit_after_unsettled(self, keys: list[str], args: list[Any]) -> Any:
        while self._unsettled:  # settles an outage held back go first: they free reserved dollars
            held_keys, held_args = self._unsettled.pop(0)  # taken before awaiting: no other call sends it too
            try:
                await self._settle(keys=held_keys, args=held_args)
            except BaseException:
                self._unsettled.insert(0, (held_keys, held_args))
                raise
        return await self._admit(keys=keys, args=args)

    async def settle(self, reservation: Reservation, usd: float, tokens: int) -> None:
        keys = self._keys_of(reservation.key_id, reservation.window)
        args = [repr(reservation.usd), repr(usd), tokens - reservation.tokens]
        try:
            await self._guarded(lambda: self._settle(keys=keys, args=args))
        except StoreUnavailableError:
            # The answer was given; its cost is settled once Redis is back (the reservation stays counted).
            self._unsettled.append((keys, args))
            log.warning("key %s: settle of $%.6f held until the key store is back", reservation.key_id, usd)

    async def spend(self, key_id: str) -> tuple[float, float]:
        spent, reserved = await self._guarded(
            lambda: self._redis.hmget(f"{self.prefix}spend:{key_id}", "spent", "reserved")
        )
        return float(spent or 0), float(reserved or 0)

    async def create(
        self,
        name: str,
        *,
        budget_usd: float | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        models: list[str] | None = None,
        cache_namespace: str | None = None,
    ) -> tuple[VirtualKey, str]:
        check_new_key(budget_usd, rpm, tpm, cache_namespace)
        secret = new_secret()
        allowed = frozenset(models) if models is not None else None
        key = VirtualKey(new_key_id(), name, budget_usd, rpm, tpm, allowed, cache_namespace)
        digest = hash_secret(secret)
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(f"{self.prefix}key:{digest}", _encode(key))
        pipe.hset(f"{self.prefix}keys", key.id, digest)
        await self._guarded(pipe.execute)
        return key, secret

    async def list_keys(self) -> list[VirtualKey]:
        digests = await self._guarded(lambda: self._redis.hgetall(f"{self.prefix}keys"))
        if not digests:
            return []
        names = [f"{self.prefix}key:{d.decode()}" for d in digests.values()]
        raws = await self._guarded(lambda: self._redis.mget(names))
        return [_decode(raw) for raw in raws if raw is not None]

    async def revoke(self, key_id: str) -> bool:
        digest = await self._guarded(lambda: self._redis.hget(f"{self.prefix}keys", key_id))
        if digest is None:
            return False
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(f"{self.prefix}key:{digest.decode()}")
        pipe.hdel(f"{self.prefix}keys", key_id)
        await self._guarded(pipe.execute)
        self._cache.clear()
        return True

    async def aclose(self) -> None:
        await self._redis.aclose()
