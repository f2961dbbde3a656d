"""The realtime and flex rows of a planned job: one pool of workers over one queue.

Flex and realtime share the provider's rate limit (the config's stack: retry, rate limit, cache),
so they share one pool: ``concurrency`` workers take rows from the front of the queue until it is
empty and closed. A flex request that OpenAI refuses (``429 resource_unavailable``: the flex tier
is short of capacity) is not retried on flex: it goes back to the front of the queue as a
realtime row. Rows moved off a late provider batch join the same queue while it runs.

Every request reserves its predicted cost in the job's :class:`Budget` before it is sent; a row
whose reservation does not fit is held back (not sent, left for the next run).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from inferopt.client import AsyncClient
from inferopt.errors import ProviderHTTPError
from inferopt.parallel.jobs.rows import Row
from inferopt.parallel.planner.budget import Budget
from inferopt.parallel.retry import FLEX_FALLBACK
from inferopt.types import ChatResponse

Outcome = ChatResponse | Exception
Emit = Callable[[Row, str, Outcome], None]
Price = Callable[[Row, str], float]


def flex_refused(error: BaseException) -> bool:
    """OpenAI's flex tier had no capacity for the request (it is not billed)."""
    return isinstance(error, ProviderHTTPError) and error.status == 429 and error.error_type == "resource_unavailable"


class LivePool:
    """``concurrency`` workers over one queue of rows; ``put`` waits while ``limit`` rows wait already,
    so a job read from its input a row at a time never holds more than that many (rows put at the
    front, a refused flex row or a late batch's, go in at once: they are in memory already)."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        concurrency: int,
        budget: Budget,
        price: Price,
        emit: Emit,
        limit: int | None = None,
    ) -> None:
        self.client = client
        self.concurrency = max(1, concurrency)
        self.limit = limit or 4 * self.concurrency
        self.budget = budget
        self.price = price
        self.emit = emit
        self.flex_refused = 0
        self.held: list[Row] = []  # not sent: the budget would not allow them
        self.sent = 0
        self._queue: deque[tuple[Row, str]] = deque()
        lock = asyncio.Lock()
        self._items = asyncio.Condition(lock)  # a row is waiting, or the pool has finished
        self._space = asyncio.Condition(lock)  # the queue is under its limit
        self._in_flight = 0
        self._closed = False

    @property
    def waiting(self) -> int:
        return len(self._queue) + self._in_flight

    async def put(self, rows: list[Row], route: str, *, front: bool = False) -> None:
        async with self._items:
            if front:
                self._queue.extendleft((row, route) for row in reversed(rows))
            else:
                await self._space.wait_for(lambda: len(self._queue) < self.limit)
                self._queue.extend((row, route) for row in rows)
            self._items.notify(len(rows))

    async def close(self) -> None:
        """No more rows will be put (the queue still drains, refused flex rows included)."""
        async with self._items:
            self._closed = True
            self._items.notify_all()

    async def run(self) -> None:
        await asyncio.gather(*(self._worker() for _ in range(self.concurrency)))

    def _finished(self) -> bool:
        return self._closed and self._in_flight == 0 and not self._queue

    async def _next(self) -> tuple[Row, str] | None:
        async with self._items:
            while not self._queue:
                if self._finished():
                    return None
                await self._items.wait()
            self._in_flight += 1
            self._space.notify()
            return self._queue.popleft()

    async def _release(self) -> None:
        async with self._items:
            self._in_flight -= 1
            if self._finished():
                self._items.notify_all()  # every idle worker ends

    async def _worker(self) -> None:
        while (item := await self._next()) is not None:
            try:
                await self._one(*item)
            finally:
                await self._release()

    async def _one(self, row: Row, route: str) -> None:
        held = self.price(row, route)
        if not self.budget.reserve(held):
            self.held.append(row)
            return
        request = row.request
        if route == "flex":
            request = replace(
                request,
                extra={**request.extra, "service_tier": "flex"},
                options={**request.options, FLEX_FALLBACK: True},
            )
        self.sent += 1
        try:
            response = await self.client.complete(request)
        except Exception as error:  # a failed row is recorded, the job goes on
            self.budget.settle(held, 0.0)
            if route == "flex" and flex_refused(error):
                self.flex_refused += 1
                await self.put([row], "realtime", front=True)
                return
            self.emit(row, route, error)
            return
        self.budget.settle(held, response.cost_usd or 0.0)
        self.emit(row, route, response)
