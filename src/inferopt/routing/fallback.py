"""Fallbacks with a circuit breaker, and load balancing across deployments of one model.

- :class:`~inferopt.routing.attempts.CircuitBreaker` (sans-I/O, injected clock) skips a target
  that failed ``failure_threshold`` times in a row for ``cooldown_s``, then lets one trial through.
- :class:`Fallback` tries targets in order on provider errors and timeouts, skipping open circuits
  and rate-limited targets; when every attempt fails it raises
  :class:`~inferopt.errors.AllAttemptsFailedError` carrying every attempt's error. It streams live:
  each delta of the target that answers is relayed as it comes, and a stream cut or stalled
  part-way continues on the next target (:mod:`.live_stream`). The bounds on a silent upstream are
  on by default (:class:`~inferopt.routing.attempts.Deadlines`): ``first_token_timeout_s`` 20,
  ``stall_timeout_s`` 15, ``deadline_s`` 90 for the whole sequence, ``timeout_s`` 60 for one
  unstreamed attempt. ``hedge_after_s`` (off by default) starts the next target beside a late
  first one and keeps whichever answers first (:mod:`.hedge`). ``shared_cooldown: redis://...``
  shares each 429's ``Retry-After`` with every replica on that Redis (:mod:`.cooldowns`).
- :class:`Balanced` spreads requests over deployments of the same model (``weighted`` at random,
  ``least_busy`` by requests in flight, ``lowest_latency`` by a moving average), and falls back to
  the other deployments when the chosen one fails.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

from inferopt.errors import ConfigError
from inferopt.routing.attempts import CircuitBreaker, Deadlines, TargetAttempts
from inferopt.routing.cooldowns import cooldowns_for
from inferopt.routing.hedge import complete_hedged
from inferopt.routing.live_stream import stream_targets
from inferopt.types import ChatRequest, ChatResponse, Model, StreamEvent

DEFAULTS = Deadlines()


def _deadlines(
    timeout_s: float | None,
    first_token_timeout_s: float | None,
    stall_timeout_s: float | None,
    deadline_s: float | None,
    hedge_after_s: float | None,
) -> Deadlines:
    """The router's bounds; a ``timeout_s`` shorter than the first-token default bounds the first token too."""
    if timeout_s is not None and first_token_timeout_s is not None:
        first_token_timeout_s = min(timeout_s, first_token_timeout_s)
    if hedge_after_s is not None and hedge_after_s <= 0:
        raise ConfigError(f"hedge_after_s must be > 0 seconds (got {hedge_after_s!r}); leave it out to not hedge")
    return Deadlines(timeout_s, first_token_timeout_s, stall_timeout_s, deadline_s, hedge_after_s)


class Fallback:
    """Try ``order`` (target names) first to last on errors and timeouts; see the module docstring."""

    def __init__(
        self,
        targets: Mapping[str, Model],
        order: Sequence[str] | None = None,
        *,
        name: str = "fallback",
        timeout_s: float | None = DEFAULTS.attempt_timeout_s,
        first_token_timeout_s: float | None = DEFAULTS.first_token_timeout_s,
        stall_timeout_s: float | None = DEFAULTS.stall_timeout_s,
        deadline_s: float | None = DEFAULTS.deadline_s,
        hedge_after_s: float | None = None,
        shared_cooldown: str | None = None,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        deadlines = _deadlines(timeout_s, first_token_timeout_s, stall_timeout_s, deadline_s, hedge_after_s)
        cooldowns = cooldowns_for(shared_cooldown)
        self._attempts = TargetAttempts(targets, name, deadlines, failure_threshold, cooldown_s, clock, cooldowns)
        self.order = list(order or targets)
        self._attempts.targets.require(self.order, name)

    @property
    def breakers(self) -> dict[str, CircuitBreaker]:
        return self._attempts.breakers

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return await complete_hedged(self._attempts, self.order, request, lambda *_: None)

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return stream_targets(self._attempts, self.order, request, lambda *_: None)

    async def aclose(self) -> None:
        await self._attempts.cooldowns.aclose()
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
        timeout_s: float | None = DEFAULTS.attempt_timeout_s,
        first_token_timeout_s: float | None = DEFAULTS.first_token_timeout_s,
        stall_timeout_s: float | None = DEFAULTS.stall_timeout_s,
        deadline_s: float | None = DEFAULTS.deadline_s,
        hedge_after_s: float | None = None,
        shared_cooldown: str | None = None,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        latency_smoothing: float = 0.2,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError(f"balancing strategy {strategy!r} is unknown; use one of {STRATEGIES}")
        deadlines = _deadlines(timeout_s, first_token_timeout_s, stall_timeout_s, deadline_s, hedge_after_s)
        cooldowns = cooldowns_for(shared_cooldown)
        self._attempts = TargetAttempts(targets, name, deadlines, failure_threshold, cooldown_s, clock, cooldowns)
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
            return await complete_hedged(self._attempts, order, request, self._done)
        finally:
            if first is not None:
                self.in_flight[first] -= 1

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        order = self.order()
        first = order[0] if order else None
        if first is not None:
            self.in_flight[first] += 1
        try:
            async for event in stream_targets(self._attempts, order, request, self._done):
                yield event
        finally:
            if first is not None:
                self.in_flight[first] -= 1

    async def aclose(self) -> None:
        await self._attempts.cooldowns.aclose()
        await self._attempts.targets.aclose()
