"""``PromptCached``: breakpoint placement (unit) and cache reads/writes priced, over HTTP to the emulator."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from inferopt.cache.prompt import PrefixChecker, PromptCached, place_breakpoints
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.pricing import default_catalog
from inferopt.providers.anthropic import AnthropicModel
from inferopt.providers.base import Provider
from inferopt.providers.openai import OpenAIChatModel
from inferopt.types import ChatRequest, Message

HANDBOOK = "\n".join(f"Section {i}: refunds within {i} days need receipt number R-{i:04d}." for i in range(700))
TOOLS = [{"type": "function", "function": {"name": f"tool_{i}", "description": "d " * 200}} for i in range(3)]


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=3, overrides=ProfileOverrides(fixed_latency_s=0.0))) as running:
        yield running


def marks(request: ChatRequest) -> list[str]:
    found = [f"tool{i}" for i, t in enumerate(request.tools or []) if "cache_control" in t]
    for i, m in enumerate(request.messages):
        if isinstance(m.content, list):
            found += [f"{m.role}{i}.{j}" for j, p in enumerate(m.content) if "cache_control" in p]
    return found


def test_breakpoints_go_on_tools_system_history_and_context_within_limits() -> None:
    request = ChatRequest(
        model="claude-sonnet-4-6",
        tools=TOOLS,
        messages=[
            Message("system", HANDBOOK),
            Message("user", "first question " * 300),
            Message("assistant", "first answer " * 300),
            Message("user", [{"type": "text", "text": HANDBOOK}, {"type": "text", "text": "Which section?"}]),
        ],
    )
    placed, count = place_breakpoints(request, ttl="1h", min_tokens=100)
    assert count == 4 and marks(placed) == ["tool2", "system0.0", "assistant2.0", "user3.0"]
    assert placed.messages[0].content[0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}  # type: ignore[index]
    assert marks(request) == []  # the caller's request is not mutated


def test_no_breakpoint_below_the_models_minimum_and_callers_markers_win() -> None:
    short = ChatRequest.of("hi", model="claude-haiku-4-5", system="Be brief. " * 50)
    assert place_breakpoints(short) == (short, 0)  # haiku-4-5 needs 4096 tokens
    marked = ChatRequest(
        model="claude-sonnet-4-6",
        messages=[Message("system", [{"type": "text", "text": HANDBOOK, "cache_control": {"type": "ephemeral"}}])],
    )
    assert place_breakpoints(marked) == (marked, 0)


def test_prefix_checker_warns_when_dynamic_content_comes_first() -> None:
    checker = PrefixChecker()
    for day in ("Monday", "Tuesday"):
        bad = ChatRequest.of("Which section covers 30 days?", model="gpt-4o", system=f"Today is {day}.\n{HANDBOOK}")
        warning = checker.check(bad)
    assert warning is not None and "static content" in warning
    good_checker = PrefixChecker()
    for day in ("Monday", "Tuesday"):
        good = ChatRequest.of(f"Today is {day}. Which section?", model="gpt-4o", system=HANDBOOK)
        assert good_checker.check(good) is None


async def test_anthropic_breakpoints_read_the_cache_and_savings_are_priced(server: EmulatorServer) -> None:
    model = PromptCached(AnthropicModel(Provider("emu", server.anthropic_base_url, api_key="sk-ant-pc")))
    asks = [
        ChatRequest.of(f"Question {i}: which section?", model="claude-sonnet-4-6", system=HANDBOOK, max_tokens=20)
        for i in range(2)
    ]
    first = await model.complete(asks[0])
    second = await model.complete(asks[1])
    await model.aclose()
    assert first.usage.cache_write_tokens > 1024 and first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens == first.usage.cache_write_tokens
    assert first.annotations["prompt_cache"]["breakpoints"] == 1
    assert first.annotations["prompt_cache"]["saved_usd"] < 0  # a write costs 1.25x
    price = default_catalog().get("claude-sonnet-4-6")
    expected = second.usage.cache_read_tokens * (price.input - (price.cache_read or 0)) / 1e6
    assert second.annotations["prompt_cache"]["saved_usd"] == pytest.approx(expected)


async def test_without_the_wrapper_anthropic_caches_nothing(server: EmulatorServer) -> None:
    model = AnthropicModel(Provider("emu", server.anthropic_base_url, api_key="sk-ant-plain"))
    for i in range(2):
        response = await model.complete(
            ChatRequest.of(f"Question {i}?", model="claude-sonnet-4-6", system=HANDBOOK, max_tokens=20)
        )
    await model.aclose()
    assert response.usage.cache_read_tokens == 0


async def test_openai_prompt_cache_key_and_prefix_warning_over_http(
    server: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    model = PromptCached(
        OpenAIChatModel(Provider("emu", server.openai_base_url, api_key="sk-pc-openai")), prompt_cache_key="auto"
    )
    good = [ChatRequest.of(f"Q{i}?", model="gpt-4o", system=HANDBOOK, max_tokens=10) for i in range(2)]
    first, second = [await model.complete(r) for r in good]
    assert second.usage.cache_read_tokens >= 1024 and second.annotations["prompt_cache"]["saved_usd"] > 0
    assert (
        first.annotations["prompt_cache"]["prompt_cache_key"] == second.annotations["prompt_cache"]["prompt_cache_key"]
    )
    with caplog.at_level(logging.WARNING, logger="inferopt.cache"):
        for i in range(2):
            bad = await model.complete(
                ChatRequest.of("Q?", model="gpt-4o", system=f"Request {i} at 12:0{i}.\n{HANDBOOK}", max_tokens=10)
            )
    await model.aclose()
    assert bad.usage.cache_read_tokens == 0  # the dynamic first line defeats the provider's cache ...
    assert "warning" in bad.annotations["prompt_cache"] and "static content" in caplog.text  # ... and we say so
