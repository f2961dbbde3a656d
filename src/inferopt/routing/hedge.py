"""Hedged attempts (a router's ``hedge_after_s``; off by default).

When the attempt in flight has not answered (unstreamed) or sent its first event (streamed) after
``hedge_after_s``, the next target starts too; the first to answer is kept and the other is
cancelled. At most two attempts are in flight; a failure lets the next target start at once, as
without hedging. The cancelled attempt is in ``route.attempts`` with outcome ``hedged_cancelled``
and a cost estimated from the request's input tokens (it sent nothing we saw, yet a provider bills
the prompt it read); the answer's ``cost_usd`` includes it, its ``usage`` is the winner's.

Each streamed attempt is read by its own task (:class:`Pump`), so racing two never moves a stream
from one task to another; the winner's is then relayed from its pump.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from inferopt.errors import AllAttemptsFailedError, ProviderError
from inferopt.routing.attempts import TargetAttempts, attempt_error, deadline_passed, shortest, stops_failover
from inferopt.routing.routed import Attempt, RouteRecord
from inferopt.tokens import count_request_tokens
from inferopt.types import ChatRequest, ChatResponse, StreamEvent, Usage, close_stream

HEDGED_CANCELLED = "hedged_cancelled"
_END = object()


class Pump:
    """One attempt's stream read to its end by a task of its own; iterate it like the stream."""

    def __init__(self, stream: Any) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task = asyncio.ensure_future(self._run(stream))

    async def _run(self, stream: Any) -> None:
        try:
            async for event in stream:
                self._queue.put_nowait(event)
            self._queue.put_nowait(_END)
        except Exception as exc:  # the upstream's error, raised to whoever reads next
            self._queue.put_nowait(exc)
        finally:
            await close_stream(stream)

    def __aiter__(self) -> Pump:
        return self

    async def __anext__(self) -> StreamEvent:
        item = await self._queue.get()
        if item is _END:
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        event: StreamEvent = item
        return event

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def cancelled_attempt(attempts: TargetAttempts, target: str, request: ChatRequest, winner: str) -> Attempt:
    """The loser of a race, billed for an estimate of the prompt it read (by its target's price)."""
    tokens = count_request_tokens(request)
    estimate = ChatResponse(id="hedge-estimate", model=target, content="", usage=Usage(input_tokens=tokens))
    price = _pricer(attempts.targets.model(target))
    cost = price(estimate).cost_usd if price is not None else None
    attempts.breakers[target].release()
    note = f"cancelled: {winner} answered first (usage estimated: {tokens} input tokens)"
    return Attempt(target, cost, HEDGED_CANCELLED, error=note)


def _pricer(model: object) -> Callable[[ChatResponse], ChatResponse] | None:
    """The ``price`` of the :class:`~inferopt.pricing.priced.Priced` layer under a target (through ``inner``)."""
    for _ in range(32):
        price = getattr(model, "price", None)
        if callable(price):
            return price  # type: ignore[no-any-return]
        model = getattr(model, "inner", None)
        if model is None:
            return None
    return None


@dataclass(slots=True)
class Flight:
    target: str
    started: float
    timeout: float | None
    pump: Pump | None = None


class Race:
    """Targets of ``queue`` tried in order, a second in flight once the first is late (see the module)."""

    def __init__(
        self,
        attempts: TargetAttempts,
        queue: list[str],
        request: ChatRequest,
        began: float,
        record: RouteRecord,
        errors: list[tuple[str, Exception]],
        on_done: Callable[[str, float, bool], None],
    ) -> None:
        self.attempts, self.queue, self.request = attempts, queue, request
        self.began, self.record, self.errors, self.on_done = began, record, errors, on_done
        self.flying: dict[asyncio.Future[Any], Flight] = {}

    async def _launch(self, start: Callable[[Flight], Awaitable[Any]], bound: float | None) -> bool:
        attempts = self.attempts
        await attempts.sync_cooldowns(self.queue)
        while self.queue:
            target = self.queue.pop(0)
            if attempts.skip(target, self.record, self.errors):
                continue
            left = attempts.remaining(self.began)
            if left is not None and left <= 0:
                self.errors.append((target, deadline_passed(attempts.deadlines, target)))
                self.queue.clear()
                return False
            flight = Flight(target, attempts.clock(), shortest(bound, left))
            self.flying[asyncio.ensure_future(start(flight))] = flight
            return True
        return False

    async def first(
        self, start: Callable[[Flight], Awaitable[Any]], bound: float | None, what: str
    ) -> tuple[Flight, Any]:
        """The first flight to succeed and its result; failures are booked; raises when none is left."""
        hedge_s = self.attempts.deadlines.hedge_after_s
        due = False
        try:
            while self.queue or self.flying:
                if len(self.flying) < (2 if due else 1) and not await self._launch(start, bound) and not self.flying:
                    break
                due = False
                wait = hedge_s if len(self.flying) == 1 and self.queue else None
                done, _ = await asyncio.wait(self.flying, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                due = not done
                for task in done:
                    flight = self.flying.pop(task)
                    exc = task.exception()
                    if exc is None:
                        self._cancel_others(flight.target)
                        return flight, task.result()
                    if flight.pump is not None:
                        await flight.pump.aclose()
                    self._failed(flight, exc, what)
        finally:
            for task, flight in self.flying.items():
                task.cancel()
                if flight.pump is not None:
                    await flight.pump.aclose()
            await asyncio.gather(*self.flying, return_exceptions=True)
            self.flying.clear()
        await self.attempts.sync_cooldowns([t for t, _ in self.errors])
        raise AllAttemptsFailedError(self.errors)

    def _failed(self, flight: Flight, exc: BaseException, what: str) -> None:
        if not isinstance(exc, ProviderError | TimeoutError | StopAsyncIteration):
            raise exc
        error = attempt_error(exc, flight.target, flight.timeout, what)
        self.attempts.failed(flight.target, error, flight.started, self.on_done, self.record, self.errors)
        if stops_failover(error):
            raise error from None

    def _cancel_others(self, winner: str) -> None:
        for flight in self.flying.values():
            self.record.attempts.append(cancelled_attempt(self.attempts, flight.target, self.request, winner))
            self.queue.append(flight.target)  # slow, not failed: still there for a rescue later


async def complete_hedged(
    attempts: TargetAttempts, order: Sequence[str], request: ChatRequest, on_done: Callable[[str, float, bool], None]
) -> ChatResponse:
    """``attempts.run`` with hedging when the router has ``hedge_after_s``."""
    if attempts.deadlines.hedge_after_s is None:
        return await attempts.run(order, request, on_done)
    record = RouteRecord(attempts.name)
    errors: list[tuple[str, Exception]] = []
    forwarded = attempts.for_targets(request)
    race = Race(attempts, list(order), forwarded, attempts.clock(), record, errors, on_done)

    async def start(flight: Flight) -> ChatResponse:
        async with asyncio.timeout(flight.timeout):
            return await attempts.targets.complete(flight.target, forwarded)

    flight, answer = await race.first(start, attempts.deadlines.attempt_timeout_s, "no answer")
    attempts.breakers[flight.target].record(True, attempts.clock())
    on_done(flight.target, attempts.clock() - flight.started, True)
    record.add(answer)
    record.reason = hedged_reason(record, errors)
    return record.finish(answer, flight.target)


async def first_event_hedged(race: Race, forwarded: ChatRequest) -> tuple[Flight, Pump, StreamEvent]:
    """The first streamed attempt to send an event (its pump, to read the rest from), hedged."""
    attempts = race.attempts

    async def start(flight: Flight) -> StreamEvent:
        flight.pump = Pump(attempts.targets.stream(flight.target, forwarded))
        async with asyncio.timeout(flight.timeout):
            return await anext(flight.pump)

    flight, event = await race.first(start, attempts.deadlines.first_token_timeout_s, "no first token")
    race.queue.insert(0, flight.target)
    assert flight.pump is not None
    return flight, flight.pump, event


def hedged_reason(record: RouteRecord, errors: list[tuple[str, Exception]]) -> str:
    """``route.reason``: after how many failures, and how many attempts a hedge cancelled."""
    reason = "first healthy target" if not errors else f"after {len(errors)} failure(s)"
    hedged = sum(1 for a in record.attempts if a.outcome == HEDGED_CANCELLED)
    return reason + (f", hedged ({hedged} cancelled)" if hedged else "")
