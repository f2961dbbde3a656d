"""Adaptive concurrency: a semaphore whose limit backs off on sustained 429s and recovers (AIMD).

TCP's congestion control applied to a provider: each success raises the limit by ``1/limit``
(about +1 per round of ``limit`` requests); a rate-limit answer halves it, at most once per
``cooldown_s`` so one burst of 429s from many in-flight requests counts as one signal. Waiters
queue first-come-first-served on futures; nobody polls.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType

from inferopt.errors import InvalidArgumentError


class AdaptiveConcurrency:
    def __init__(
        self,
        limit: int,
        *,
        min_limit: int = 1,
        max_limit: int | None = None,
        decrease_factor: float = 0.5,
        cooldown_s: float = 1.0,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or min_limit < 1:
            raise InvalidArgumentError("concurrency limits must be at least 1")
        self.limit = float(limit)
        self.min_limit = min_limit
        self.max_limit = max_limit or limit
        self.decrease_factor = decrease_factor
        self.cooldown_s = cooldown_s
        self.adaptive = adaptive
        self.in_flight = 0
        self.decreases = 0
        self._clock = clock
        self._last_decrease = float("-inf")
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.in_flight < int(self.limit) and not self._waiters:
            self.in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # we were granted a slot just as we were cancelled: hand it on
            else:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < int(self.limit):
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def on_success(self) -> None:
        if self.adaptive and self.limit < self.max_limit:
            self.limit = min(float(self.max_limit), self.limit + 1.0 / self.limit)
            self._wake()

    def on_rate_limited(self) -> None:
        now = self._clock()
        if self.adaptive and now - self._last_decrease >= self.cooldown_s:
            self._last_decrease = now
            self.limit = max(float(self.min_limit), self.limit * self.decrease_factor)
            self.decreases += 1

    async def __aenter__(self) -> AdaptiveConcurrency:
        await self.acquire()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
