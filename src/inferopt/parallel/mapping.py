"""Run one async call over many items with bounded concurrency, results as values.

A fixed pool of ``concurrency`` workers pulls items from one shared iterator, so a million
inputs cost a million small objects only as they are consumed, never a million tasks at once.
Results come back as ``(index, result_or_error)`` as they complete (``map_unordered``), or in
input order (``map_ordered``); an error is a value in its slot, never an exception that aborts
the rest of the batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TypeVar, cast

from inferopt.errors import InvalidArgumentError

T = TypeVar("T")
R = TypeVar("R")

_DONE = object()


async def _work(
    call: Callable[[T], Awaitable[R]],
    source: Iterator[tuple[int, T]],
    deliver: Callable[[int, R | Exception], Awaitable[None]],
) -> None:
    """One worker: take the next item from the shared iterator until it is exhausted."""
    for index, item in source:  # the iterator is shared: each item goes to exactly one worker
        try:
            result: R | Exception = await call(item)
        except Exception as error:  # per-item failure is data, not control flow
            result = error
        await deliver(index, result)


async def _stop(workers: Sequence[asyncio.Future[None]]) -> None:
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)


async def map_unordered(
    call: Callable[[T], Awaitable[R]], items: Iterable[T], *, concurrency: int
) -> AsyncIterator[tuple[int, R | Exception]]:
    """Yield ``(index, result)`` pairs as calls finish; an exception raised by a call is its result."""
    if concurrency < 1:
        raise InvalidArgumentError("concurrency must be at least 1")
    source = enumerate(items)
    results: asyncio.Queue[object] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def deliver(index: int, result: R | Exception) -> None:
        # A worker starts its next call only once the consumer has come back for another result, so
        # calls in flight plus results not yet handled never exceed ``concurrency``: a job that
        # journals each result before asking for the next loses at most that many to a crash.
        handled = loop.create_future()
        await results.put((index, result, handled))
        await handled

    async def worker() -> None:
        await _work(call, source, deliver)
        await results.put(_DONE)

    workers = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
    running = len(workers)
    try:
        while running:
            entry = await results.get()
            if entry is _DONE:
                running -= 1
                continue
            index, result, handled = cast("tuple[int, R | Exception, asyncio.Future[None]]", entry)
            yield index, result
            handled.set_result(None)
    finally:
        await _stop(workers)


async def map_ordered(
    call: Callable[[T], Awaitable[R]], items: Iterable[T], *, concurrency: int
) -> list[R | Exception]:
    """Results in input order; each slot holds the call's result or the exception it raised.

    The workers store results themselves (no queue and no consumer to wake per result).
    """
    if concurrency < 1:
        raise InvalidArgumentError("concurrency must be at least 1")
    slots: dict[int, R | Exception] = {}

    async def store(index: int, result: R | Exception) -> None:
        slots[index] = result

    source = enumerate(items)
    workers = [asyncio.ensure_future(_work(call, source, store)) for _ in range(concurrency)]
    try:
        await asyncio.gather(*workers)
    finally:
        await _stop(workers)
    return [slots[i] for i in range(len(slots))]
