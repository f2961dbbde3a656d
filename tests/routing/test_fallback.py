"""Fallbacks with a circuit breaker, and balancing across deployments."""

from __future__ import annotations

import asyncio
import random

import pytest

from inferopt.errors import AllAttemptsFailedError, ProviderError, ServerError
from inferopt.routing.fallback import Balanced, CircuitBreaker, Fallback
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
