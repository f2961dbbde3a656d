"""Redis for shared limits and budgets: a bounded pool that waits, and how an outage is told and logged.

:func:`bounded_redis` opens a client over a ``BlockingConnectionPool``: at most ``max_connections``
sockets per process, and a caller past them *waits* (up to ``pool_wait_s``) for one to come back.
redis-py's default pool instead raises "Too many connections" past 100 concurrent calls: under 1,000
concurrent requests over four gateway replicas, 494 of them answered 500 that way. Every shared
operation is one round trip (a Lua script or a pipeline), so a connection is held for well under a
millisecond and a few dozen serve thousands of requests in flight. Short connect and read timeouts
make an outage quick to see, whether Redis refuses connections or stops answering.

:func:`backend_down` tells an outage (connection refused, reset, timed out) from a bug, and
:class:`Outage` logs each outage once when it begins and once when it ends, never once per call,
and says when to try Redis again (every ``retry_s`` while it is down), so callers do not each pay
a failed connection attempt.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from inferopt.errors import ConfigError

DEFAULT_MAX_CONNECTIONS = 64
DEFAULT_POOL_WAIT_S = 20.0
DEFAULT_TIMEOUT_S = 2.0


def bounded_redis(
    url: str,
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    pool_wait_s: float = DEFAULT_POOL_WAIT_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    what: str = "a redis:// URL",
) -> Any:
    """A ``redis.asyncio.Redis`` for ``url`` whose callers queue for a connection instead of failing."""
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:
        raise ConfigError(f"{what} needs the redis package: pip install 'inferopt[redis]'", key="redis") from exc
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_wait_s,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
    )
    return aioredis.Redis.from_pool(pool)


def backend_down(exc: BaseException) -> bool:
    """Whether ``exc`` says a shared store's Redis is down. redis-py's own errors derive from neither
    OSError nor the builtin ConnectionError; they are recognised without importing redis (which
    would cost every process that never uses it some 8 MB): a RedisError exists only once redis is loaded."""
    if isinstance(exc, OSError | ConnectionError | TimeoutError):
        return True
    errors = sys.modules.get("redis.exceptions")
    return errors is not None and isinstance(exc, errors.RedisError)


class Outage:
    """The state of one shared store: up, or down since when. Logs transitions, not calls."""

    def __init__(
        self,
        what: str,
        logger: logging.Logger,
        *,
        retry_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.retry_s = retry_s
        self.outages = 0
        self._log = logger
        self._clock = clock
        self._down_since: float | None = None
        self._last_try = 0.0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def should_try(self) -> bool:
        """Up, or down long enough since the last attempt that Redis is worth asking again."""
        return self._down_since is None or self._clock() - self._last_try >= self.retry_s

    def failed(self, exc: BaseException, fallback: str) -> None:
        now = self._clock()
        self._last_try = now
        if self._down_since is None:
            self._down_since = now
            self.outages += 1
            self._log.warning("%s unavailable (%s: %s); %s", self.what, type(exc).__name__, exc, fallback)

    def succeeded(self) -> None:
        if self._down_since is not None:
            lasted = self._clock() - self._down_since
            self._down_since = None
            self._log.warning("%s is back after %.1f s", self.what, lasted)
