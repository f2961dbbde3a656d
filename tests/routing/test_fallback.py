"""Fallbacks with a circuit breaker, and balancing across deployments."""

from __future__ import annotations

import asyncio
import random

import pytest

from inferopt.errors import AllAttemptsFailedError, ProviderError, ServerError
from inferopt.routing.attempts import CircuitBreaker
from inferopt.routing.fallback import Balanced, Fallback
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest, ChatResponse, Usage


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def failing(message: str = "down") -> FunctionModel:
    def answer(request: ChatRequest) -> str:
        raise ServerError(message, status=503)

    return FunctionModel(answer)


def request() -> ChatRequest:
    return ChatRequest.of("hi", model="router/f")


def test_breaker_opens_after_repeated_failures_and_half_opens_after_cooldown() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10)
    breaker.record(False, 0)
    assert breaker.allow(1)
    breaker.record(False, 1)
    assert breaker.is_open and not breaker.allow(5)
    assert breaker.allow(11)  # the one trial
    assert not breaker.allow(11.5)  # while the trial is in flight
    breaker.record(False, 12)  # trial failed: open again for a full cool-down
    assert not breaker.allow(20) and breaker.allow(22.5)
    breaker.record(True, 23)
    assert not breaker.is_open and breaker.allow(23)


async def test_fallback_uses_the_next_model_and_skips_an_open_circuit() -> None:
    clock = Clock()
    primary = failing()
    backup = FunctionModel(lambda r: ChatResponse("b", r.model, "from backup", Usage(3, 2), cost_usd=0.002))
    fallback = Fallback({"primary": primary, "backup": backup}, failure_threshold=2, cooldown_s=30, clock=clock)
    for _ in range(2):
        response = await fallback.complete(request())
        assert response.content == "from backup"
    assert fallback.breakers["primary"].is_open
    response = await fallback.complete(request())
    assert [a["outcome"] for a in response.route["attempts"]] == ["skipped", "accepted"]
    assert response.cost_usd == 0.002  # only the answer that was billed
    assert len(primary.calls) == 2  # not called while its circuit is open
    clock.now = 31
    await fallback.complete(request())
    assert len(primary.calls) == 3  # the half-open trial


async def test_every_failure_is_reported_together() -> None:
    fallback = Fallback({"a": failing("a is down"), "b": failing("b is down")})
    with pytest.raises(AllAttemptsFailedError) as info:
        await fallback.complete(request())
    assert [m for m, _ in info.value.errors] == ["a", "b"]
    assert "a is down" in str(info.value) and "b is down" in str(info.value)
    assert isinstance(info.value, ProviderError) and info.value.retryable


async def test_a_hanging_model_times_out_into_the_fallback() -> None:
    async def hang(request: ChatRequest) -> str:
        await asyncio.sleep(10)
        return "late"

    fallback = Fallback({"slow": FunctionModel(hang), "fast": FunctionModel(lambda r: "quick")}, timeout_s=0.01)
    response = await fallback.complete(request())
    assert response.content == "quick"
    assert "ProviderTimeoutError" in response.route["attempts"][0]["error"]


async def test_weighted_balancing_follows_the_weights() -> None:
    models = {"east": FunctionModel(lambda r: "e"), "west": FunctionModel(lambda r: "w")}
    balanced = Balanced(models, weights={"east": 3, "west": 1}, rng=random.Random(1))
    for _ in range(400):
        await balanced.complete(request())
    share = len(models["east"].calls) / 400
    assert 0.68 < share < 0.82


async def test_least_busy_and_lowest_latency() -> None:
    release = asyncio.Event()

    async def slow(request: ChatRequest) -> str:
        await release.wait()
        return "slow"

    models = {"a": FunctionModel(slow), "b": FunctionModel(slow)}
    busy = Balanced(models, strategy="least_busy")
    first = asyncio.create_task(busy.complete(request()))
    await asyncio.sleep(0)
    second = asyncio.create_task(busy.complete(request()))
    await asyncio.sleep(0)
    assert len(models["a"].calls) == 1 and len(models["b"].calls) == 1  # the second went to the idle one
    release.set()
    await asyncio.gather(first, second)

    clock = Clock()

    def timed(seconds: float) -> FunctionModel:
        def answer(request: ChatRequest) -> str:
            clock.now += seconds
            return "ok"

        return FunctionModel(answer)

    fast, slow_model = timed(0.1), timed(2.0)
    latency = Balanced({"slow": slow_model, "fast": fast}, strategy="lowest_latency", clock=clock)
    for _ in range(10):
        await latency.complete(request())
    assert len(fast.calls) == 9 and len(slow_model.calls) == 1  # measured once, then avoided


def priced(text: str, cost: float, chunk_size: int = 4) -> FunctionModel:
    def answer(request: ChatRequest) -> ChatResponse:
        return ChatResponse("r", request.model, text, Usage(3, 5), provider="fn", cost_usd=cost)

    return FunctionModel(answer, chunk_size=chunk_size)


async def test_fallback_streams_the_answering_target_piece_by_piece() -> None:
    from inferopt.types import StreamDone, TextDelta

    fallback = Fallback({"a": failing(), "b": priced("streamed in pieces", 0.02)}, ["a", "b"])
    events = [e async for e in fallback.stream(request())]
    pieces = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(pieces) > 1 and "".join(pieces) == "streamed in pieces"  # not one piece at the end
    done = events[-1]
    assert isinstance(done, StreamDone)
    assert done.response.route["chosen"] == "b"
    assert [a["outcome"] for a in done.response.route["attempts"]] == ["error", "accepted"]
    assert done.response.cost_usd == 0.02  # the failed attempt was not billed


async def test_a_silent_first_target_costs_timeout_s_not_its_whole_answer() -> None:
    from inferopt.types import StreamDone

    async def silent(request: ChatRequest) -> str:
        await asyncio.sleep(30)
        return "too late"

    fallback = Fallback({"slow": FunctionModel(silent), "b": priced("ok", 0.01)}, ["slow", "b"], timeout_s=0.2)
    started = asyncio.get_running_loop().time()
    events = [e async for e in fallback.stream(request())]
    assert asyncio.get_running_loop().time() - started < 2.0
    assert isinstance(events[-1], StreamDone) and events[-1].response.route["chosen"] == "b"
    assert "ProviderTimeoutError" in events[-1].response.route["attempts"][0]["error"]


async def test_every_target_failing_to_start_a_stream_raises_with_each_error() -> None:
    fallback = Fallback({"a": failing("a down"), "b": failing("b down")}, ["a", "b"])
    with pytest.raises(AllAttemptsFailedError, match=r"a down.*b down"):
        [e async for e in fallback.stream(request())]


async def test_balanced_streams_and_counts_in_flight() -> None:
    from inferopt.types import StreamDone

    balanced = Balanced({"east": priced("from east", 0.01), "west": priced("from west", 0.01)}, strategy="least_busy")
    events = [e async for e in balanced.stream(request())]
    assert isinstance(events[-1], StreamDone) and events[-1].response.route["chosen"] in ("east", "west")
    assert balanced.in_flight == {"east": 0, "west": 0}
