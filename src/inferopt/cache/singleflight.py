"""Single-flight: N concurrent identical requests make one upstream call.

In the process, the first caller of a key becomes the *leader* and registers a future; the others
await it and get the leader's answer directly (even if the backend write failed). Across processes,
the leader also takes the backend's :class:`~inferopt.cache.backend.FillLock` when it has one
(Redis); a process that finds the lock held waits for the release (pub/sub, no spinning) and reads
the entry the other process wrote.

If the leader fails or is cancelled, its followers are woken with nothing and race again: one of
them becomes the next leader, so an error is not fanned out to every waiter, and a leader that
never comes back does not hold anyone past ``wait_timeout_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from inferopt.cache.backend import FillLock
from inferopt.cache.entry import CachedAnswer

logger = logging.getLogger("inferopt.cache")


class Lead:
    """The right (and duty) to fill a key: call :meth:`finish` with the answer, or None on failure."""

    def __init__(self, flights: SingleFlight, key: str, future: asyncio.Future[CachedAnswer | None] | None) -> None:
        self._flights = flights
        self._key = key
        self._future = future
        self.token: str | None = None
        self._finished = False

    async def finish(self, answer: CachedAnswer | None) -> None:
        if self._finished:
            return
        self._finished = True
        if self._future is not None:
            if not self._future.done():
                self._future.set_result(answer)
            if self._flights._flights.get(self._key) is self._future:
                del self._flights._flights[self._key]
        if self.token is not None and self._flights.lock is not None:
            try:
                await self._flights.lock.release_fill(self._key, self.token)
            except Exception as exc:  # the lock expires by itself; waiters are not stuck
                self._flights.on_backend_error("release_fill", exc)


class SingleFlight:
    """Coordinates fills of the same key. ``lock`` is the backend's cross-process lock, if any."""

    def __init__(
        self,
        *,
        lock: FillLock | None = None,
        wait_timeout_s: float = 120.0,
        on_backend_error: Callable[[str, Exception], None] | None = None,
    ) -> None:
        self.lock = lock
        self.wait_timeout_s = wait_timeout_s
        self.on_backend_error = on_backend_error or (lambda op, exc: logger.warning("cache %s failed: %r", op, exc))
        self._flights: dict[str, asyncio.Future[CachedAnswer | None]] = {}

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    async def claim(self, key: str, read: Callable[[], Awaitable[CachedAnswer | None]]) -> CachedAnswer | Lead:
        """Either the answer another caller produced, or a :class:`Lead` to produce it."""
        while True:
            future = self._flights.get(key)
            if future is not None:
                try:
                    answer = await asyncio.wait_for(asyncio.shield(future), self.wait_timeout_s)
                except TimeoutError:
                    return Lead(self, key, None)  # leader too slow: go upstream uncoordinated
                if answer is not None:
                    return answer
                continue  # the leader failed: race to lead again
            future = asyncio.get_running_loop().create_future()
            self._flights[key] = future
            lead = Lead(self, key, future)
            if self.lock is None:
                return lead
            answer = await self._cross_process(key, lead, read)
            if answer is not None:
                await lead.finish(answer)
                return answer
            return lead

    async def _cross_process(
        self, key: str, lead: Lead, read: Callable[[], Awaitable[CachedAnswer | None]]
    ) -> CachedAnswer | None:
        assert self.lock is not None
        try:
            lead.token = await self.lock.acquire_fill(key, self.wait_timeout_s)
            if lead.token is not None:
                return None
            await self.lock.wait_fill(key, self.wait_timeout_s)
            answer = await read()
            if answer is None:  # the other filler failed: take the lock ourselves if we can
                lead.token = await self.lock.acquire_fill(key, self.wait_timeout_s)
            return answer
        except Exception as exc:  # fail open: fill without the cross-process lock
            self.on_backend_error("fill_lock", exc)
            return None
