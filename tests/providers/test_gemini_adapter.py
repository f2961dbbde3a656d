"""The Gemini adapter against the emulator's Gemini wire, over real loopback HTTP."""

import json
from collections.abc import Iterator

import pytest

from inferopt.client import AsyncClient
from inferopt.config import Config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.errors import ProviderHTTPError, RateLimitedError
from inferopt.providers.base import Provider
from inferopt.providers.gemini import GeminiModel
from inferopt.types import ChatRequest, Message, StreamDone, TextDelta, ThinkingDelta, ToolCallDelta

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
LONG_RULES = " ".join(f"Rule {i}: answer politely and cite the handbook section {i}." for i in range(300))


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=5, overrides=ProfileOverrides(fixed_latency_s=0.0))) as running:
        yield running


def gemini(server: EmulatorServer, **headers: str) -> GeminiModel:
    return GeminiModel(Provider("emu-gemini", server.url, api_key="gm-test-key", headers=headers))


async def test_complete_and_stream_agree_with_usage(server: EmulatorServer) -> None:
    model = gemini(server)
    request = ChatRequest.of("Name three colours", model="gemini-2.5-flash", system="Be brief.", max_tokens=40)
    whole = await model.complete(request)
    events = [e async for e in model.stream(request)]
    await model.aclose()
    done = events[-1]
    assert isinstance(done, StreamDone) and whole.emulated and whole.content
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == whole.content == done.response.content
    assert done.response.usage == whole.usage and whole.usage.input_tokens > 0 and whole.usage.output_tokens > 0
    assert whole.provider_stop_reason in ("STOP", "MAX_TOKENS") and whole.finish_reason in ("stop", "length")


async def test_a_forced_tool_call_then_its_result_gets_an_answer(server: EmulatorServer) -> None:
    model = gemini(server)
    ask = ChatRequest.of("Weather in Paris?", model="gemini-2.5-flash", tools=[WEATHER], tool_choice="required")
    first = await model.complete(ask)
    assert first.finish_reason == "tool_calls" and first.tool_calls
    call = first.tool_calls[0]
    assert call["function"]["name"] == "get_weather" and isinstance(
        json.loads(call["function"]["arguments"])["city"], str
    )
    streamed = [e async for e in model.stream(ask)]
    fragments = [e for e in streamed if isinstance(e, ToolCallDelta)]
    assert [f.name for f in fragments] == ["get_weather"] and json.loads(fragments[0].arguments) == json.loads(
        call["function"]["arguments"]
    )
    follow = ChatRequest(
        model="gemini-2.5-flash",
        messages=[
            *ask.messages,
            Message("assistant", "", tool_calls=[call]),
            Message("tool", '{"sky": "clear"}', tool_call_id=call["id"]),
        ],
        tools=[WEATHER],
    )
    second = await model.complete(follow)
    await model.aclose()
    assert second.finish_reason in ("stop", "length") and second.content and not second.tool_calls


async def test_json_schema_output_parses(server: EmulatorServer) -> None:
    schema = {
        "type": "object",
        "properties": {"label": {"type": "string"}, "score": {"type": "integer"}},
        "required": ["label", "score"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema}}
    model = gemini(server)
    answer = await model.complete(ChatRequest.of("Classify: great", model="gemini-2.5-flash", response_format=fmt))
    await model.aclose()
    value = json.loads(answer.content)
    assert isinstance(value["label"], str) and isinstance(value["score"], int)


async def test_thoughts_stream_first_and_count_as_output(server: EmulatorServer) -> None:
    extra = {"generationConfig": {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024}}}
    request = ChatRequest.of("Think, then answer", model="gemini-2.5-flash", max_tokens=30, extra=extra)
    model = gemini(server)
    whole = await model.complete(request)
    events = [e async for e in model.stream(request)]
    await model.aclose()
    assert whole.thinking and whole.thinking[0].text and whole.usage.reasoning_tokens > 0
    assert whole.usage.output_tokens > whole.usage.reasoning_tokens  # thoughts are billed as output, on top
    first = next(i for i, e in enumerate(events) if isinstance(e, ThinkingDelta))
    assert first < next(i for i, e in enumerate(events) if isinstance(e, TextDelta))


async def test_implicit_prefix_caching_is_reported_and_priced(
    server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config.model_validate(
        {
            "providers": {"g": {"kind": "gemini", "base_url": server.url, "api_key_env": "GEMINI_TEST_KEY"}},
            "default_model": "g/gemini-2.5-flash",
        }
    )
    monkeypatch.setenv("GEMINI_TEST_KEY", "gm-cache-test")
    client = AsyncClient(config)
    try:
        first = await client.complete(LONG_RULES + " Question one?", system="Follow the rules.")
        second = await client.complete(LONG_RULES + " Question two?", system="Follow the rules.")
    finally:
        await client.aclose()
    assert first.usage.cache_read_tokens == 0 and second.usage.cache_read_tokens >= 1024
    assert first.cost_usd and second.cost_usd and second.cost_usd < first.cost_usd  # cached reads are cheaper


async def test_a_429_waits_the_retry_info_delay_and_a_blocked_prompt_is_a_clear_400(server: EmulatorServer) -> None:
    model = gemini(server, **{"x-emulator-fault": "429:7"})
    with pytest.raises(RateLimitedError) as limited:
        await model.complete(ChatRequest.of("hi", model="gemini-2.5-flash"))
    await model.aclose()
    assert limited.value.retry_after == 7.0  # from the body's google.rpc.RetryInfo: Gemini sends no header
    assert limited.value.error_type == "RESOURCE_EXHAUSTED"
    model = gemini(server)
    with pytest.raises(ProviderHTTPError) as unknown:
        await model.complete(ChatRequest.of("hi", model="gemini-0-nope"))
    await model.aclose()
    assert unknown.value.status == 404 and "gemini-2.5-flash" in str(unknown.value)


async def test_embeddings_through_the_client_are_ordered_shortened_and_priced(
    server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_TEST_KEY", "gm-embed-test")
    config = Config.model_validate(
        {
            "providers": {"g": {"kind": "gemini", "base_url": server.url, "api_key_env": "GEMINI_TEST_KEY"}},
            "default_model": "g/gemini-2.5-flash",
        }
    )
    client = AsyncClient(config)
    before = server.stats.by_route["/v1beta/models:batchEmbedContents"]
    try:
        answer = await client.embed(["a cat", "a dog", "a cat"], model="g/gemini-embedding-001", dimensions=32)
    finally:
        await client.aclose()
    assert [len(v) for v in answer.vectors] == [32, 32, 32]
    assert answer.vectors[0] == answer.vectors[2] != answer.vectors[1]
    assert answer.usage.input_tokens > 0 and answer.cost_usd and answer.cost_usd > 0
    assert server.stats.by_route["/v1beta/models:batchEmbedContents"] - before == 1  # one request for all three
