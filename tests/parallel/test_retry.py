"""Retry decisions (sans-I/O) and the Retrying wrapper over an in-process model."""

import random

import pytest

from inferopt.config import parse_config
from inferopt.errors import AuthenticationError, ProviderTimeoutError, RateLimitedError, ServerError
from inferopt.parallel.retry import GiveUp, RetryBudget, Retrying, RetryPolicy, RetryState, Sleep
from inferopt.stack import build_stack
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest, StreamDone, TextDelta

REQUEST = ChatRequest.of("hi", model="gpt-4o-mini")


def rate_limited(after: float | None) -> RateLimitedError:
    return RateLimitedError("slow down", status=429, retry_after=after)


def server_error() -> ServerError:
    return ServerError("boom", status=500)


def state(policy: RetryPolicy, budget: RetryBudget | None = None) -> RetryState:
    return RetryState(policy, started=0.0, rng=random.Random(1), budget=budget)


def test_backoff_is_full_jitter_under_a_doubling_ceiling() -> None:
    s = state(RetryPolicy(max_attempts=10, initial_backoff_s=1, max_backoff_s=5))
    ceilings = []
    for _ in range(5):
        action = s.after_failure(server_error(), now=0)
        assert isinstance(action, Sleep) and action.reason == "backoff"
        ceilings.append(action.seconds)
    assert all(0 <= w <= c for w, c in zip(ceilings, [1, 2, 4, 5, 5], strict=True))


def test_retry_after_wins_with_at_most_ten_percent_jitter() -> None:
    action = state(RetryPolicy()).after_failure(rate_limited(7.0), now=0)
    assert isinstance(action, Sleep) and action.reason == "retry-after" and 7.0 <= action.seconds <= 7.7


def test_non_retryable_errors_give_up_at_once() -> None:
    action = state(RetryPolicy()).after_failure(AuthenticationError("no", status=401), now=0)
    assert isinstance(action, GiveUp) and action.reason == "not retryable"
    assert isinstance(state(RetryPolicy()).after_failure(ValueError("bug"), now=0), GiveUp)


def test_attempts_and_deadline_bound_the_sequence() -> None:
    s = state(RetryPolicy(max_attempts=2))
    assert isinstance(s.after_failure(server_error(), 0), Sleep)
    assert s.after_failure(server_error(), 0) == GiveUp("gave up after 2 attempts")
    late = state(RetryPolicy(deadline_s=10)).after_failure(rate_limited(5.0), now=6.0)
    assert isinstance(late, GiveUp) and "deadline" in late.reason
    too_long = state(RetryPolicy(max_retry_after_s=60)).after_failure(rate_limited(3600.0), now=0)
    assert isinstance(too_long, GiveUp) and "max_retry_after_s" in too_long.reason


def test_budget_caps_retries_across_requests() -> None:
    budget = RetryBudget(ratio=0.0, min_retries=2)
    s = state(RetryPolicy(max_attempts=10), budget)
    assert isinstance(s.after_failure(server_error(), 0), Sleep)
    assert isinstance(s.after_failure(server_error(), 0), Sleep)
    assert s.after_failure(server_error(), 0) == GiveUp(
        "retry budget exhausted (too many retries across recent requests)"
    )


class Flaky:
    """Fails with the given errors, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)

    def __call__(self, request: ChatRequest) -> str:
        if self.errors:
            raise self.errors.pop(0)
        return "finally"


async def test_retrying_sleeps_as_told_and_annotates_attempts() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    inner = FunctionModel(Flaky(rate_limited(2.0), ProviderTimeoutError("slow")))
    model = Retrying(inner, RetryPolicy(initial_backoff_s=0.25), sleep=sleep, rng=random.Random(0))
    answer = await model.complete(REQUEST)
    assert answer.content == "finally" and answer.attempts == 3 and len(inner.calls) == 3
    assert 2.0 <= waits[0] <= 2.2 and 0 <= waits[1] <= 0.5


async def test_retrying_raises_the_last_error_with_a_note() -> None:
    async def sleep(seconds: float) -> None:
        return None

    model = Retrying(
        FunctionModel(Flaky(*[server_error() for _ in range(5)])), RetryPolicy(max_attempts=3), sleep=sleep
    )
    with pytest.raises(ServerError) as err:
        await model.complete(REQUEST)
    assert "gave up after 3 attempts" in "".join(err.value.__notes__)


async def test_stream_is_retried_before_the_first_delta_only() -> None:
    async def sleep(seconds: float) -> None:
        return None

    model = Retrying(FunctionModel(Flaky(server_error()), chunk_size=2), sleep=sleep)
    events = [e async for e in model.stream(REQUEST)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "finally"
    assert isinstance(events[-1], StreamDone) and events[-1].response.attempts == 2


def test_retry_is_available_in_the_config_stack() -> None:
    config = parse_config({"stack": [{"retry": {"max_attempts": 7, "budget_ratio": 0.1}}]})
    model = build_stack(FunctionModel(lambda r: "x"), config.stack)
    assert isinstance(model, Retrying) and model.policy.max_attempts == 7 and model.budget is not None
