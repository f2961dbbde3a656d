"""Our adapters against the emulator over real loopback HTTP."""

import asyncio
from collections.abc import Iterator

import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.errors import AuthenticationError, ContextWindowExceededError
from inferopt.providers.anthropic import AnthropicModel
from inferopt.providers.base import Provider
from inferopt.providers.openai import OpenAIChatModel
from inferopt.types import ChatRequest, Message, StreamDone, TextDelta

LONG_RULES = " ".join(f"Rule {i}: answer politely and cite the handbook section {i}." for i in range(400))


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=7, overrides=ProfileOverrides(fixed_latency_s=0.0))) as running:
        yield running


def openai_model(server: EmulatorServer, key: str | None = "sk-test-openai") -> OpenAIChatModel:
    return OpenAIChatModel(Provider("emu-openai", server.openai_base_url, api_key=key))


def anthropic_model(server: EmulatorServer, key: str | None = "sk-ant-test") -> AnthropicModel:
    return AnthropicModel(Provider("emu-anthropic", server.anthropic_base_url, api_key=key))


async def test_openai_complete_and_stream_agree(server: EmulatorServer) -> None:
    model = openai_model(server)
    request = ChatRequest.of("Name three colours", model="gpt-4o-mini", max_tokens=30, temperature=0)
    whole = await model.complete(request)
    events = [e async for e in model.stream(request)]
    await model.aclose()
    assert whole.emulated and whole.content and whole.usage.input_tokens > 0 and whole.usage.output_tokens > 0
    assert whole.request_id and whole.finish_reason in ("stop", "length")
    deltas = "".join(e.text for e in events if isinstance(e, TextDelta))
    done = events[-1]
    assert isinstance(done, StreamDone)
    assert deltas == done.response.content == whole.content  # same seed, same request, same answer
    assert done.response.usage == whole.usage  # usage arrives in the final chunk (include_usage)
    assert done.response.ttft_s is not None and done.response.ttft_s <= done.response.latency_s  # type: ignore[operator]


async def test_anthropic_complete_and_stream_agree(server: EmulatorServer) -> None:
    model = anthropic_model(server)
    request = ChatRequest.of("Name three colours", model="claude-haiku-4-5", system="Be brief.", max_tokens=30)
    whole = await model.complete(request)
    events = [e async for e in model.stream(request)]
    await model.aclose()
    done = events[-1]
    assert isinstance(done, StreamDone) and whole.emulated
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == whole.content
    assert done.response.usage == whole.usage and whole.usage.output_tokens > 0
    assert whole.provider_stop_reason in ("end_turn", "max_tokens")


async def test_openai_prefix_caching_reported_as_cached_tokens(server: EmulatorServer) -> None:
    model = openai_model(server, key="sk-test-cache-openai")
    first = await model.complete(ChatRequest.of("Question one?", model="gpt-4o", system=LONG_RULES, max_tokens=5))
    second = await model.complete(ChatRequest.of("Question two?", model="gpt-4o", system=LONG_RULES, max_tokens=5))
    await model.aclose()
    assert first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens >= 1024 and second.usage.cache_read_tokens % 128 == 0
    assert second.usage.cache_read_tokens <= second.usage.input_tokens


async def test_anthropic_cache_control_write_then_read(server: EmulatorServer) -> None:
    model = anthropic_model(server, key="sk-ant-test-cache")
    system = Message("system", [{"type": "text", "text": LONG_RULES, "cache_control": {"type": "ephemeral"}}])

    def ask(question: str) -> ChatRequest:
        return ChatRequest(model="claude-sonnet-4-5", messages=[system, Message("user", question)], max_tokens=5)

    first = await model.complete(ask("Question one?"))
    second = await model.complete(ask("Question two?"))
    await model.aclose()
    assert first.usage.cache_write_tokens > 1024 and first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens == first.usage.cache_write_tokens and second.usage.cache_write_tokens == 0
    # our convention: input_tokens counts every prompt token, cache reads included
    assert second.usage.input_tokens > second.usage.cache_read_tokens


async def test_missing_key_is_an_authentication_error(server: EmulatorServer) -> None:
    model = openai_model(server, key=None)
    with pytest.raises(AuthenticationError) as err:
        await model.complete(ChatRequest.of("hi", model="gpt-4o-mini"))
    await model.aclose()
    assert err.value.status == 401 and not err.value.retryable


async def test_context_window_exceeded_is_its_own_error(server: EmulatorServer) -> None:
    model = anthropic_model(server)
    huge = "word " * 260_000
    with pytest.raises(ContextWindowExceededError) as err:
        await model.complete(ChatRequest.of(huge, model="claude-haiku-4-5", max_tokens=10))
    await model.aclose()
    assert err.value.status == 400


async def test_stream_closed_early_stops_generation_upstream(server: EmulatorServer) -> None:
    slow = EmulatorConfig(seed=1, overrides=ProfileOverrides(ttft_s=0.01, tokens_per_s=200.0, jitter=0.0))
    with EmulatorServer(slow) as emulator:
        model = openai_model(emulator)
        stream = model.stream(ChatRequest.of("Write a long essay", model="gpt-4o-mini", max_tokens=400))
        first = await stream.__anext__()
        await stream.aclose()  # type: ignore[attr-defined]
        await model.aclose()
        for _ in range(100):  # the emulator notices the hang-up at its next chunk (a few ms)
            if emulator.stats.streams_abandoned:
                break
            await asyncio.sleep(0.02)
        assert isinstance(first, TextDelta)
        assert emulator.stats.streams_abandoned == 1  # generation stopped: nobody pays for unread tokens
