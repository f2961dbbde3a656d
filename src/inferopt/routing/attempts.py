"""Trying targets in order: circuit breakers, cool-downs, deadlines, every failure kept.

- :class:`CircuitBreaker` is sans-I/O state: after ``failure_threshold`` failures in a row a target
  is skipped for ``cooldown_s``; then one trial request is let through (half-open) and its outcome
  closes or re-opens the circuit. The clock is injected.
- :class:`Deadlines` bound a silent upstream, on by default (see its docstring for the values).
- :class:`TargetAttempts` drives one request over an order of targets, answered whole; the streamed
  twin, with rescue, is :mod:`.live_stream`. :mod:`.fallback` builds its routers on both.

Fault discipline: a 429 with ``Retry-After`` holds its target back for that long (the targets'
retry layers do not wait for it: the router tries the next target at once, and when every target
is limited the error carries the smallest wait, which the gateway answers as 429 ``Retry-After``).
An error that trying elsewhere cannot fix (a 4xx other than 408/409/429: bad request, auth, not
found, a content-policy refusal) is raised at once, neither retried nor failed over; a context
window error does fail over (the next target may have a larger window).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from inferopt.errors import (
    AllAttemptsFailedError,
    ContextWindowExceededError,
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderTimeoutError,
    RateLimitedError,
    UnsupportedParameterError,
)
from inferopt.parallel.retry import RATE_LIMITS_TO_CALLER
from inferopt.rescue import STALL_OPTION
from inferopt.routing.cooldowns import LocalCooldowns
from inferopt.routing.routed import Attempt, RouteRecord, Targets
from inferopt.types import ChatRequest, ChatResponse, Model


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

    def release(self) -> None:
        """An attempt ended without an outcome (a hedge cancelled it): a half-open trial may run again."""
        self.trial_in_flight = False

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None


@dataclass(frozen=True, slots=True)
class Deadlines:
    """How long a router waits on a silent upstream (seconds; None: no bound). On by default:

    - ``attempt_timeout_s`` (60): one unstreamed attempt, whole answer;
    - ``first_token_timeout_s`` (20): a streamed attempt's first token, else the next target starts;
    - ``stall_timeout_s`` (15): silence between two events of a live stream, else it is rescued;
    - ``deadline_s`` (90): the whole attempt sequence (a stream that is flowing is never cut by it);
    - ``hedge_after_s`` (off): a late answer or first token starts the next target too (:mod:`.hedge`).
    """

    attempt_timeout_s: float | None = 60.0
    first_token_timeout_s: float | None = 20.0
    stall_timeout_s: float | None = 15.0
    deadline_s: float | None = 90.0
    hedge_after_s: float | None = None


def stops_failover(error: BaseException) -> bool:
    """An error another target cannot fix: the caller's request (4xx but 408/409/429, context aside)."""
    return (
        isinstance(error, ProviderHTTPError)
        and not error.retryable
        and not isinstance(error, ContextWindowExceededError | UnsupportedParameterError)  # another target may take it
    )


def shortest(*bounds: float | None) -> float | None:
    known = [b for b in bounds if b is not None]
    return min(known) if known else None


class TargetAttempts:
    """Shared driver: try names in order with breakers, cool-downs and deadlines, collecting every failure."""

    def __init__(
        self,
        targets: Mapping[str, Model],
        name: str,
        deadlines: Deadlines,
        failure_threshold: int,
        cooldown_s: float,
        clock: Callable[[], float],
        cooldowns: LocalCooldowns | None = None,
    ) -> None:
        self.targets = Targets(targets)
        self.name = name
        self.deadlines = deadlines
        self.clock = clock
        self.breakers = {n: CircuitBreaker(failure_threshold, cooldown_s) for n in self.targets.names}
        self.cooldowns = cooldowns or LocalCooldowns()  # each target's Retry-After (:mod:`.cooldowns`)

    def cooldown_key(self, target: str) -> str:
        """What a Retry-After holds back: the target's provider and model (shared by every router)."""
        key = getattr(self.targets.model(target), "shared_key", None)
        return key if isinstance(key, str) else target

    async def sync_cooldowns(self, order: Sequence[str]) -> None:
        """Share this process's new cool-downs and learn the other replicas' (with ``shared_cooldown``)."""
        await self.cooldowns.sync([self.cooldown_key(t) for t in order], self.clock())

    def for_targets(self, request: ChatRequest) -> ChatRequest:
        """The request each target gets: rate limits come back to the router, stalls are bounded."""
        options = {**request.options, RATE_LIMITS_TO_CALLER: True}
        if self.deadlines.stall_timeout_s is not None:
            options.setdefault(STALL_OPTION, self.deadlines.stall_timeout_s)
        return replace(request, options=options)

    def remaining(self, started: float) -> float | None:
        deadline = self.deadlines.deadline_s
        return None if deadline is None else deadline - (self.clock() - started)

    def skip(self, target: str, record: RouteRecord, errors: list[tuple[str, Exception]]) -> bool:
        """Whether ``target`` sits this request out (circuit open, or rate limited for a while yet)."""
        now = self.clock()
        wait = self.cooldowns.held_for(self.cooldown_key(target), now)
        if wait > 0:
            note = f"rate limited for {wait:.1f} s more"
            errors.append((target, RateLimitedError(note, status=429, model=target, retry_after=wait)))
            record.attempts.append(Attempt(target, None, "skipped", error=note))
            return True
        if not self.breakers[target].allow(now):
            record.attempts.append(Attempt(target, None, "skipped", error="circuit open"))
            return True
        return False

    def failed(
        self,
        target: str,
        error: ProviderError,
        started: float,
        on_done: Callable[[str, float, bool], None],
        record: RouteRecord,
        errors: list[tuple[str, Exception]],
    ) -> None:
        """Book a failed attempt: breaker, cool-down, latency, the record (a cut one billed) and the errors."""
        now = self.clock()
        if not stops_failover(error):  # the caller's mistake says nothing about the target's health
            self.breakers[target].record(False, now)
        if isinstance(error, RateLimitedError) and error.retry_after:
            self.cooldowns.hold(self.cooldown_key(target), error.retry_after, now)
        on_done(target, now - started, False)
        errors.append((target, error))
        partial = error.partial
        outcome, cost = ("cut", partial.cost_usd) if partial is not None else ("error", None)
        record.attempts.append(Attempt(target, cost, outcome, error=f"{type(error).__name__}: {error}"))

    async def run(
        self, order: Sequence[str], request: ChatRequest, on_done: Callable[[str, float, bool], None]
    ) -> ChatResponse:
        record = RouteRecord(self.name)
        errors: list[tuple[str, Exception]] = []
        began = self.clock()
        forwarded = self.for_targets(request)
        for target in order:
            await self.sync_cooldowns(order)
            if self.skip(target, record, errors):
                continue
            left = self.remaining(began)
            if left is not None and left <= 0:
                errors.append((target, deadline_passed(self.deadlines, target)))
                break
            timeout = shortest(self.deadlines.attempt_timeout_s, left)
            started = self.clock()
            try:
                async with asyncio.timeout(timeout):
                    answer = await self.targets.complete(target, forwarded)
            except (ProviderError, TimeoutError) as exc:
                error = attempt_error(exc, target, timeout, "no answer")
                self.failed(target, error, started, on_done, record, errors)
                if stops_failover(error):
                    raise error from None
                continue
            self.breakers[target].record(True, self.clock())
            on_done(target, self.clock() - started, True)
            record.add(answer)
            record.reason = "first healthy target" if not errors else f"after {len(errors)} failure(s)"
            return record.finish(answer, target)
        await self.sync_cooldowns(order)
        raise AllAttemptsFailedError(errors)


def deadline_passed(deadlines: Deadlines, target: str) -> ProviderTimeoutError:
    return ProviderTimeoutError(f"the router's {deadlines.deadline_s:g} s deadline passed", model=target)


def attempt_error(exc: BaseException, target: str, timeout_s: float | None, what: str) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError):
        return ProviderTimeoutError(f"{what} within {timeout_s:g} s", model=target)
    return ProviderProtocolError("the stream ended before its first event", model=target)
