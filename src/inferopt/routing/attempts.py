"""Trying targets in order: circuit breakers, a timeout per attempt, every failure kept.

- :class:`CircuitBreaker` is sans-I/O state: after ``failure_threshold`` failures in a row a target
  is skipped for ``cooldown_s``; then one trial request is let through (half-open) and its outcome
  closes or re-opens the circuit. The clock is injected.
- :class:`TargetAttempts` drives one request over an order of targets, answered whole or streamed;
  :mod:`.fallback` builds its routers on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass

from inferopt.errors import AllAttemptsFailedError, ProviderError, ProviderProtocolError, ProviderTimeoutError
from inferopt.routing.routed import Attempt, RouteRecord, Targets
from inferopt.types import ChatRequest, ChatResponse, Model, StreamDone, StreamEvent


@dataclass(slots=True)
class CircuitBreaker:
    """Per-target failure state. ``allow`` says whether to try it now; ``record`` reports the outcome."""

    failure_threshold: int = 3
    cooldown_s: float = 30.0
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False

    def allow(self, now: float) -> bool:
        if self.opened_at is None:
            return True
        if now - self.opened_at < self.cooldown_s or self.trial_in_flight:
            return False
        self.trial_in_flight = True  # half-open: exactly one request tests the target
        return True

    def record(self, ok: bool, now: float) -> None:
        self.trial_in_flight = False
        if ok:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.failure_threshold or self.opened_at is not None:
            self.opened_at = now

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None


class TargetAttempts:
    """Shared driver: try names in order with breakers and a timeout, collecting every failure."""

    def __init__(
        self,
        targets: Mapping[str, Model],
        name: str,
        timeout_s: float | None,
        failure_threshold: int,
        cooldown_s: float,
        clock: Callable[[], float],
    ) -> None:
        self.targets = Targets(targets)
        self.name = name
        self.timeout_s = timeout_s
        self.clock = clock
        self.breakers = {n: CircuitBreaker(failure_threshold, cooldown_s) for n in self.targets.names}

    async def run(
        self, order: Sequence[str], request: ChatRequest, on_done: Callable[[str, float, bool], None]
    ) -> ChatResponse:
        record = RouteRecord(self.name)
        errors: list[tuple[str, Exception]] = []
        for target in order:
            breaker = self.breakers[target]
            if not breaker.allow(self.clock()):
                record.attempts.append(Attempt(target, None, "skipped", error="circuit open"))
                continue
            started = self.clock()
            try:
                async with asyncio.timeout(self.timeout_s):
                    answer = await self.targets.complete(target, request)
            except (ProviderError, TimeoutError) as exc:
                error = (
                    exc
                    if isinstance(exc, ProviderError)
                    else ProviderTimeoutError(f"no answer within {self.timeout_s} s", model=target)
                )
                breaker.record(False, self.clock())
                on_done(target, self.clock() - started, False)
                errors.append((target, error))
                record.attempts.append(Attempt(target, None, "error", error=f"{type(error).__name__}: {error}"))
                continue
            breaker.record(True, self.clock())
            on_done(target, self.clock() - started, True)
            record.add(answer)
            record.reason = "first healthy target" if not errors else f"after {len(errors)} failure(s)"
            return record.finish(answer, target)
        raise AllAttemptsFailedError(errors)

    async def stream(
        self, order: Sequence[str], request: ChatRequest, on_done: Callable[[str, float, bool], None]
    ) -> AsyncIterator[StreamEvent]:
        """Stream from the first target that starts answering; ``timeout_s`` bounds the wait for its first event.

        A target that fails before its first event is skipped like a failed ``complete``; once
        events have reached the caller a failure ends the stream (they cannot be taken back).
        """
        record = RouteRecord(self.name)
        errors: list[tuple[str, Exception]] = []
        for target in order:
            breaker = self.breakers[target]
            if not breaker.allow(self.clock()):
                record.attempts.append(Attempt(target, None, "skipped", error="circuit open"))
                continue
            started = self.clock()
            upstream = self.targets.stream(target, request)
            try:
                async with asyncio.timeout(self.timeout_s):
                    first = await anext(upstream)
            except (ProviderError, TimeoutError, StopAsyncIteration) as exc:
                await _close(upstream)
                error = _attempt_error(exc, target, self.timeout_s)
                breaker.record(False, self.clock())
                on_done(target, self.clock() - started, False)
                errors.append((target, error))
                record.attempts.append(Attempt(target, None, "error", error=f"{type(error).__name__}: {error}"))
                continue
            try:
                event = first
                while not isinstance(event, StreamDone):
                    yield event
                    event = await anext(upstream)
            except (ProviderError, StopAsyncIteration):
                breaker.record(False, self.clock())
                on_done(target, self.clock() - started, False)
                raise
            finally:
                await _close(upstream)
            breaker.record(True, self.clock())
            on_done(target, self.clock() - started, True)
            record.add(event.response)
            record.reason = "first healthy target" if not errors else f"after {len(errors)} failure(s)"
            yield StreamDone(record.finish(event.response, target))
            return
        raise AllAttemptsFailedError(errors)


def _attempt_error(exc: BaseException, target: str, timeout_s: float | None) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError):
        return ProviderTimeoutError(f"no first event within {timeout_s} s", model=target)
    return ProviderProtocolError("the stream ended before its first event", model=target)


async def _close(stream: AsyncIterator[StreamEvent]) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
