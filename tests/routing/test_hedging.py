"""Hedged fallbacks (``hedge_after_s``) against the real emulator over HTTP: a slow primary gets a second
attempt beside it, the first answer wins, the loser is cancelled and its estimated cost counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from inferopt.client import AsyncClient
from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.errors import ConfigError
from inferopt.routing.fallback import Fallback
from inferopt.routing.hedge import HEDGED_CANCELLED
from inferopt.types import StreamDone

KEY_ENV = "INFEROPT_TEST_HEDGE_KEY"
LATENCY_S = 0.3


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    monkeypatch.setenv(KEY_ENV, "sk-emulated")
    overrides = ProfileOverrides(fixed_latency_s=LATENCY_S)
    with EmulatorServer(EmulatorConfig(seed=2, overrides=overrides)) as running:
        yield running


def client(
    server: EmulatorServer, primary: str, backup: str = "ok", kind: str = "fallback", **router: Any
) -> AsyncClient:
    def provider(fault: str) -> dict[str, Any]:
        headers = {"x-emulator-fault": fault}
        return {"kind": "openai", "base_url": server.openai_base_url, "api_key_env": KEY_ENV, "headers": headers}

    config = parse_config(
        {
            "providers": {"p1": provider(primary), "p2": provider(backup)},
            "models": {
                "primary": {"provider": "p1", "model": "gpt-4o-mini"},
                "backup": {"provider": "p2", "model": "gpt-4o"},
            },
            "routers": {
                "safe": {"kind": kind, ("order" if kind == "fallback" else "targets"): ["primary", "backup"], **router}
            },
        }
    )
    return AsyncClient(config)


def test_a_slow_primary_is_hedged_the_backup_wins_and_the_cancelled_attempt_is_billed(
    emulator: EmulatorServer,
) -> None:
    async def scenario() -> Any:
        async with client(emulator, "slow:10", hedge_after_s=0.5) as io:
            healthy = await io.complete("Tell me about the sea.", model="backup")
            started = time.monotonic()
            answer = await io.complete("Tell me about the sea.", model="router/safe")
            return healthy, answer, time.monotonic() - started

    healthy, answer, elapsed = asyncio.run(scenario())
    assert answer.model == "gpt-4o" and answer.content == healthy.content
    assert elapsed < 0.5 + LATENCY_S + 1.0  # the hedge's delay plus one answer, not the primary's 10 s
    outcomes = [a["outcome"] for a in answer.route["attempts"]]
    assert sorted(outcomes) == ["accepted", HEDGED_CANCELLED]
    cancelled = next(a for a in answer.route["attempts"] if a["outcome"] == HEDGED_CANCELLED)
    assert cancelled["cost_usd"] > 0 and "estimated" in cancelled["error"]
    assert answer.cost_usd == pytest.approx(healthy.cost_usd + cancelled["cost_usd"])
    assert answer.usage == healthy.usage  # the usage is the winner's; the estimate is in the cost
    assert "hedged" in answer.route["reason"]
    assert emulator.stats.requests_total == 3  # the healthy reference, the slow primary, the hedge


def test_a_slow_first_token_is_hedged_and_the_stream_comes_from_the_backup(emulator: EmulatorServer) -> None:
    async def scenario() -> Any:
        async with client(emulator, "slow:10", hedge_after_s=0.5) as io:
            started = time.monotonic()
            text, done = [], None
            async for event in io.stream("Tell me about the sea.", model="router/safe"):
                if isinstance(event, StreamDone):
                    done = event.response
                else:
                    text.append(getattr(event, "text", ""))
            return "".join(text), done, time.monotonic() - started

    text, done, elapsed = asyncio.run(scenario())
    assert done is not None and done.model == "gpt-4o" and text == done.content and text
    assert elapsed < 0.5 + LATENCY_S + 1.0
    assert [a["outcome"] for a in done.route["attempts"]] == [HEDGED_CANCELLED, "accepted"]
    assert emulator.stats.requests_total == 2


def test_a_prompt_primary_is_not_hedged(emulator: EmulatorServer) -> None:
    async def scenario() -> Any:
        async with client(emulator, "ok", hedge_after_s=2.0) as io:
            plain = await io.complete("Tell me about the sea.", model="router/safe")
            events = [e async for e in io.stream("Tell me about the sea.", model="router/safe")]
            return plain, events[-1]

    plain, last = asyncio.run(scenario())
    assert plain.model == "gpt-4o-mini" and isinstance(last, StreamDone) and last.response.model == "gpt-4o-mini"
    assert [a["outcome"] for a in plain.route["attempts"]] == ["accepted"]
    assert emulator.stats.requests_total == 2  # one each: no hedge was needed


def test_a_primary_that_fails_while_hedged_leaves_the_hedge_to_answer(emulator: EmulatorServer) -> None:
    async def scenario() -> Any:
        async with client(emulator, "hang", "slow:0.5", hedge_after_s=0.3, timeout_s=1.5) as io:
            started = time.monotonic()
            answer = await io.complete("Tell me about the sea.", model="router/safe")
            return answer, time.monotonic() - started

    answer, elapsed = asyncio.run(scenario())
    assert answer.model == "gpt-4o"
    assert elapsed < 0.3 + 0.5 + LATENCY_S + 1.0  # the hedge started at 0.3 s answered; no wait for the hang
    assert emulator.stats.requests_total == 2


def test_a_balanced_router_hedges_too(emulator: EmulatorServer) -> None:
    async def scenario() -> Any:
        async with client(emulator, "slow:10", kind="balanced", strategy="least_busy", hedge_after_s=0.3) as io:
            started = time.monotonic()
            answer = await io.complete("Tell me about the sea.", model="router/safe")
            return answer, time.monotonic() - started

    answer, elapsed = asyncio.run(scenario())
    assert answer.model == "gpt-4o" and elapsed < 0.3 + LATENCY_S + 1.0
    assert emulator.stats.requests_total == 2


def test_hedge_after_s_must_be_positive() -> None:
    target: Any = object()
    with pytest.raises(ConfigError, match="hedge_after_s must be > 0"):
        Fallback({"a": target}, hedge_after_s=0)
