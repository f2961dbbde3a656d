"""Retries: a sans-I/O decision machine and a ``Retrying`` wrapper that drives it.

:class:`RetryState` decides, given what happened, whether to attempt again and how long to wait
first; it never sleeps or reads a clock itself, so it is tested without time passing (as
tenacity's ``iter()``). :class:`Retrying` is the Model wrapper: a short loop over the state.

Rules:

- Only retryable errors are retried (``ProviderError.retryable``: 429, 408/409, 5xx, timeouts,
  connection resets). A 400 or 401 fails at once: trying again cannot help and costs money.
- The wait is exponential backoff with full jitter (AWS's "Exponential Backoff and Jitter"):
  ``uniform(0, min(max_backoff, initial * multiplier ** (n - 1)))``. When the provider says how
  long to wait (``Retry-After`` / ``retry-after-ms``), that wins, plus up to 10% jitter so clients
  told the same moment do not all return at once.
- A per-request deadline (``deadline_s``, 60 s by default) bounds the whole retry sequence: a wait
  that would end past it is not taken, the last error is raised instead.
- Behind a router or the gateway (``request.options["rate_limits_to_caller"]``) a 429 that says how
  long to wait is not waited for here: it goes up at once, so the router tries another target and
  the gateway's client gets the ``Retry-After`` (its SDK waits).
- An optional :class:`RetryBudget` caps retries at a fraction of requests (gRPC's and Finagle's
  retry budgets), so a struggling provider is not hit by a retry storm.
- ``request.options["on_retry"]``, if set, is called with ``(error, wait_seconds)`` before each wait.
- A stream that fails before its first delta is retried as a request; one cut or stalled
  (``stall_timeout_s``, 15 s by default) after it started is rescued: the next attempt continues the
  text so far (:mod:`inferopt.rescue`) and the caller sees one stream, its usage summed.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from inferopt.errors import InvalidArgumentError, ProviderError, ProviderProtocolError, RateLimitedError
from inferopt.rescue import STALL_OPTION, Rescue, accepts_prefill, refuses_prefill
from inferopt.types import ChatRequest, ChatResponse, Model, StreamDone, StreamEvent, close_stream

RATE_LIMITS_TO_CALLER = "rate_limits_to_caller"
# A flex request whose caller falls back to the standard tier when OpenAI refuses it (batch run --plan).
FLEX_FALLBACK = "flex_fallback"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    multiplier: float = 2.0
    honour_retry_after: bool = True
    max_retry_after_s: float = 300.0
    deadline_s: float | None = 60.0
    stall_timeout_s: float | None = 15.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidArgumentError("max_attempts must be at least 1")
        if self.initial_backoff_s < 0 or self.max_backoff_s < 0 or self.multiplier < 1:
            raise InvalidArgumentError("backoff must be non-negative and multiplier at least 1")


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds``, then attempt again."""

    seconds: float
    reason: str


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop and raise the last error."""

    reason: str


class RetryBudget:
    """Allows retries up to ``ratio`` of requests, plus ``min_per_window`` retries, per window.

    Each request deposits ``ratio`` tokens; each retry withdraws one. Shared by every request of
    a client, so when a provider fails broadly the retries stay a small fraction of traffic.
    """

    def __init__(self, ratio: float = 0.2, min_retries: float = 10.0, max_tokens: float = 1000.0) -> None:
        self.ratio = ratio
        self.max_tokens = max_tokens
        self._tokens = min_retries

    def record_request(self) -> None:
        self._tokens = min(self.max_tokens, self._tokens + self.ratio)

    def try_withdraw(self) -> bool:
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class RetryState:
    """The decisions of one request's retry sequence (sans-I/O: the caller supplies ``now``)."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        started: float,
        rng: random.Random,
        budget: RetryBudget | None = None,
    ) -> None:
        self.policy = policy
        self.started = started
        self.attempts = 1
        self._rng = rng
        self._budget = budget

    def backoff(self) -> float:
        p = self.policy
        ceiling = min(p.max_backoff_s, p.initial_backoff_s * p.multiplier ** (self.attempts - 1))
        return self._rng.uniform(0.0, ceiling)

    def after_failure(self, error: BaseException, now: float) -> Sleep | GiveUp:
        """What to do after attempt ``self.attempts`` failed with ``error`` at time ``now``."""
        if not (isinstance(error, ProviderError) and error.retryable):
            return GiveUp("not retryable")
        if self.attempts >= self.policy.max_attempts:
            return GiveUp(f"gave up after {self.attempts} attempts")
        wait, reason = self.backoff(), "backoff"
        retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
        if self.policy.honour_retry_after and retry_after is not None:
            if retry_after > self.policy.max_retry_after_s:
                return GiveUp(f"provider asked to wait {retry_after:.0f} s, over max_retry_after_s")
            wait, reason = retry_after * (1.0 + 0.1 * self._rng.random()), "retry-after"
        deadline = self.policy.deadline_s
        if deadline is not None and now + wait - self.started > deadline:
            return GiveUp(f"the next attempt would start past the {deadline:g} s deadline")
        if self._budget is not None and not self._budget.try_withdraw():
            return GiveUp("retry budget exhausted (too many retries across recent requests)")
        self.attempts += 1
        return Sleep(wait, reason)


class Retrying:
    """A Model that retries its inner Model's retryable failures (see the module docstring).

    ``response.attempts`` says how many attempts the answer took.
    """

    def __init__(
        self,
        inner: Model,
        policy: RetryPolicy | None = None,
        *,
        budget: RetryBudget | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.policy = policy or RetryPolicy()
        self.budget = budget
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()

    def _state(self) -> RetryState:
        if self.budget is not None:
            self.budget.record_request()
        return RetryState(self.policy, started=self._clock(), rng=self._rng, budget=self.budget)

    async def _wait_or_raise(self, state: RetryState, error: BaseException, request: ChatRequest) -> None:
        action = state.after_failure(error, self._clock())
        if isinstance(error, RateLimitedError) and error.retry_after and request.options.get(RATE_LIMITS_TO_CALLER):
            action = GiveUp(f"the caller takes the {error.retry_after:g} s Retry-After (another target, or its client)")
        if request.options.get(FLEX_FALLBACK) and getattr(error, "error_type", None) == "resource_unavailable":
            action = GiveUp("flex refused: the caller sends it on the standard tier instead")
        if isinstance(action, GiveUp):
            if state.attempts > 1:
                error.add_note(f"inferopt: {action.reason} ({state.attempts} attempts)")
            raise error
        observer = request.options.get("on_retry")
        if observer is not None:  # e.g. a batch job's progress bar counting retries
            observer(error, action.seconds)
        await self._sleep(action.seconds)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        state = self._state()
        while True:
            try:
                response = await self.inner.complete(request)
            except ProviderError as error:
                await self._wait_or_raise(state, error, request)
                continue
            response.attempts = state.attempts
            return response

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        state = self._state()
        if self.policy.stall_timeout_s is not None and STALL_OPTION not in request.options:
            request = replace(request, options={**request.options, STALL_OPTION: self.policy.stall_timeout_s})
        rescue = Rescue(request)
        prefill = accepts_prefill(self.inner)
        while True:
            asked_prefill = prefill and rescue.started
            upstream = self.inner.stream(rescue.continuation(prefill) if rescue.started else request)
            try:
                async for event in upstream:
                    if isinstance(event, StreamDone):
                        for delta in rescue.flush():
                            yield delta
                        response = rescue.finish(event.response)
                        response.attempts = state.attempts
                        yield StreamDone(response)
                        return
                    for delta in rescue.relay(event):
                        yield delta
                raise ProviderProtocolError("the stream ended without its final event")
            except ProviderError as error:
                if asked_prefill and refuses_prefill(error):
                    prefill, rescue.rescues = False, rescue.rescues - 1  # ask again, to continue instead
                    continue
                if rescue.started:
                    rescue.failed(error)
                    if (blocker := rescue.blocker()) is not None:
                        error.add_note(f"inferopt: the stream was not rescued: {blocker}")
                        raise
                await self._wait_or_raise(state, error, request)
            finally:
                await close_stream(upstream)

    async def aclose(self) -> None:
        await self.inner.aclose()


def retrying_from_options(inner: Model, options: Mapping[str, Any]) -> Retrying:
    """The ``retry`` entry of a config stack: RetryPolicy fields, plus ``budget_ratio``."""
    fields = dict(options)
    ratio = fields.pop("budget_ratio", None)
    budget = RetryBudget(ratio=float(ratio)) if ratio is not None else None
    return Retrying(inner, RetryPolicy(**fields), budget=budget)
