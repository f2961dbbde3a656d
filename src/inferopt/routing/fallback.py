"""Fallbacks with a circuit breaker, and load balancing across deployments of one model.

- :class:`CircuitBreaker` is sans-I/O state: after ``failure_threshold`` failures in a row a target
  is skipped for ``cooldown_s``; then one trial request is let through (half-open) and its outcome
  closes or re-opens the circuit. The clock is injected.
- :class:`Fallback` tries targets in order on provider errors and timeouts, skipping open circuits;
  when every attempt fails it raises :class:`~inferopt.errors.AllAttemptsFailedError` carrying
  every attempt's error.
- :class:`Balanced` spreads requests over deployments of the same model (``weighted`` at random,
  ``least_busy`` by requests in flight, ``lowest_latency`` by a moving average), and falls back to
  the other deployments when the chosen one fails.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass

from inferopt.errors import AllAttemptsFailedError, ConfigError, ProviderError, ProviderTimeoutError
from inferopt.routing.routed import Attempt, RouteRecord, Targets, stream_via_complete
from inferopt.types import ChatRequest, ChatResponse, Model, StreamEvent


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


class _Attempts:
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


class Fallback:
    """Try ``order`` (target names) first to last on errors and timeouts; see the module docstring."""

    def __init__(
        self,
        targets: Mapping[str, Model],
        order: Sequence[str] | None = None,
        *,
        name: str = "fallback",
        timeout_s: float | None = None,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._attempts = _Attempts(targets, name, timeout_s, failure_threshold, cooldown_s, clock)
        self.order = list(order or targets)
        self._attempts.targets.require(self.order, name)

    @property
    def breakers(self) -> dict[str, CircuitBreaker]:
        return self._attempts.breakers

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return await self._attempts.run(self.order, request, lambda *_: None)

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return stream_via_complete(self, request)

    async def aclose(self) -> None:
        await self._attempts.targets.aclose()


STRATEGIES = ("weighted", "least_busy", "lowest_latency")


class Balanced:
    """Spread requests over deployments (targets serving the same model) by ``strategy``.

    The chosen deployment is tried first; the others follow (by the same preference) if it fails.
    """

    def __init__(
        self,
        targets: Mapping[str, Model],
        *,
        strategy: str = "weighted",
        weights: Mapping[str, float] | None = None,
        name: str = "balanced",
        timeout_s: float | None = None,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        latency_smoothing: float = 0.2,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError(f"balancing strategy {strategy!r} is unknown; use one of {STRATEGIES}")
        self._attempts = _Attempts(targets, name, timeout_s, failure_threshold, cooldown_s, clock)
        self.strategy = strategy
        self.weights = {n: float((weights or {}).get(n, 1.0)) for n in targets}
        if any(w < 0 for w in self.weights.values()) or not any(self.weights.values()):
            raise ConfigError(f"balancer {name!r}: weights must be >= 0 and not all 0 (got {self.weights})")
        self.in_flight = dict.fromkeys(targets, 0)
        self.latency_s: dict[str, float | None] = dict.fromkeys(targets, None)
        self._smoothing = latency_smoothing
        self._rng = rng or random.Random()

    def order(self) -> list[str]:
        """Deployments in the order this request will try them."""
        names = list(self.weights)
        if self.strategy == "least_busy":
            return sorted(names, key=lambda n: (self.in_flight[n], -self.weights[n]))
        if self.strategy == "lowest_latency":
            # Unmeasured deployments go first, so every one gets measured.
            return sorted(names, key=lambda n: (self.latency_s[n] is not None, self.latency_s[n] or 0.0))
        remaining = [n for n in names if self.weights[n] > 0]
        ordered = []
        while remaining:
            pick = self._rng.choices(remaining, weights=[self.weights[n] for n in remaining])[0]
            ordered.append(pick)
            remaining.remove(pick)
        return ordered

    def _done(self, name: str, elapsed_s: float, ok: bool) -> None:
        if ok:
            previous = self.latency_s[name]
            self.latency_s[name] = (
                elapsed_s if previous is None else previous + self._smoothing * (elapsed_s - previous)
            )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        order = self.order()
        first = order[0] if order else None
        if first is not None:
            self.in_flight[first] += 1
        try:
            return await self._attempts.run(order, request, self._done)
        finally:
            if first is not None:
                self.in_flight[first] -= 1

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return stream_via_complete(self, request)

    async def aclose(self) -> None:
        await self._attempts.targets.aclose()
