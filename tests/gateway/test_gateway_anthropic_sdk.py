"""The official anthropic SDK against the gateway's /v1/messages, with either wire format behind it."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest

from inferopt.emulator import EmulatorServer
from inferopt.gateway.anthropic_routes import parse_anthropic
from inferopt.gateway.validation import ParsedChat, RequestLimits
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest
from inferopt.wire.anthropic_messages import encode_request

USER: Any = [{"role": "user", "content": "Name three rivers."}]


@pytest.mark.parametrize("alias", ["haiku", "fast"])  # an Anthropic upstream, then an OpenAI one
def test_messages_create_and_stream_agree(emulator: EmulatorServer, start_gateway: Any, alias: str) -> None:
    gateway = start_gateway(emulator)
    with anthropic.Anthropic(base_url=gateway.anthropic_base_url, api_key="k", max_retries=0) as claude:
        raw = claude.messages.with_raw_response.create(model=alias, max_tokens=30, system="Be brief.", messages=USER)
        whole = raw.parse()
        with claude.messages.stream(model=alias, max_tokens=30, system="Be brief.", messages=USER) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
    assert whole.type == "message" and whole.role == "assistant"
    assert whole.content[0].type == "text" and whole.content[0].text == text
    assert whole.stop_reason in ("end_turn", "max_tokens") and final.stop_reason == whole.stop_reason
    assert whole.usage.output_tokens == final.usage.output_tokens > 0
    assert whole.usage.input_tokens > 0
    assert raw.headers["x-inferopt-provider"] == ("claude" if alias == "haiku" else "emu")


def test_anthropic_errors_use_anthropic_shapes(emulator: EmulatorServer, start_gateway: Any) -> None:
    gateway = start_gateway(emulator)
    with (
        anthropic.Anthropic(base_url=gateway.anthropic_base_url, api_key="k", max_retries=0) as claude,
        pytest.raises(anthropic.BadRequestError) as caught,
    ):
        claude.messages.create(model="haiku", max_tokens=0, messages=USER)
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": caught.value.body["error"]["message"]},  # type: ignore[index]
    }
    assert "max_tokens" in caught.value.message
    missing = httpx.post(gateway.url + "/v1/messages", json={"model": "haiku", "messages": USER})
    assert missing.status_code == 400 and "max_tokens: Field required" in missing.json()["error"]["message"]


def test_anthropic_request_maps_to_the_same_upstream_body_it_came_from() -> None:
    """Anthropic in -> ChatRequest -> Anthropic out keeps system blocks, cache_control, tools and tool turns."""
    original: dict[str, Any] = {
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "Rules...", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "tu_1", "name": "weather", "input": {"city": "Paris"}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "sunny"}]},
        ],
        "tools": [
            {
                "name": "weather",
                "description": "Weather now",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                "cache_control": {"type": "ephemeral"},
            }
        ],
        "tool_choice": {"type": "auto"},
        "stop_sequences": ["END"],
        "temperature": 0.5,
        "top_k": 5,
    }
    parsed = parse_anthropic(original, RequestLimits())
    assert isinstance(parsed, ParsedChat)
    assert parsed.request.extra == {"top_k": 5}  # unmapped fields pass through
    again = encode_request(parsed.request, stream=False)
    assert again["system"] == original["system"]
    assert again["tools"] == original["tools"]
    assert again["tool_choice"] == original["tool_choice"]
    assert again["stop_sequences"] == ["END"] and again["temperature"] == 0.5 and again["top_k"] == 5
    assert again["messages"][1]["content"] == original["messages"][1]["content"]
    assert again["messages"][2]["content"][0]["tool_use_id"] == "tu_1"


def test_tool_calls_come_back_as_tool_use_blocks(start_gateway: Any) -> None:
    from inferopt.types import ChatResponse, Usage

    call = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}

    def answer(request: ChatRequest) -> ChatResponse:
        return ChatResponse(
            id="x", model="gpt-4o-mini", content="", usage=Usage(5, 3), finish_reason="tool_calls", tool_calls=[call]
        )

    gateway = start_gateway(models={"gpt-4o-mini": FunctionModel(answer)})
    with anthropic.Anthropic(base_url=gateway.anthropic_base_url, api_key="k", max_retries=0) as claude:
        message = claude.messages.create(model="gpt-4o-mini", max_tokens=20, messages=USER)
        with claude.messages.stream(model="gpt-4o-mini", max_tokens=20, messages=USER) as stream:
            streamed = stream.get_final_message()
    for result in (message, streamed):
        assert result.stop_reason == "tool_use"
        blocks = [b for b in result.content if b.type == "tool_use"]
        assert len(blocks) == 1 and blocks[0].name == "weather" and blocks[0].input == {"city": "Oslo"}


def test_count_tokens_through_the_gateway_counts_locally_and_grows_with_the_prompt(start_gateway: Any) -> None:
    gateway = start_gateway(models={"gpt-4o-mini": FunctionModel(lambda r: "unused")})
    client = anthropic.Anthropic(base_url=gateway.anthropic_base_url, api_key="x", max_retries=0)
    short = client.messages.count_tokens(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
    raw = client.messages.with_raw_response.count_tokens(
        model="gpt-4o-mini",
        system="You are a careful assistant who answers in full sentences.",
        messages=[{"role": "user", "content": "Tell me about the history of the printing press in Europe."}],
    )
    longer = raw.parse()
    assert 0 < short.input_tokens < longer.input_tokens
    assert raw.headers["x-inferopt-token-count"] == "local"  # says how it was counted
    with pytest.raises(anthropic.BadRequestError, match="messages"):
        client.messages.count_tokens(model="gpt-4o-mini", messages=[])


def test_anthropic_beta_headers_reach_an_anthropic_upstream(emulator: EmulatorServer, start_gateway: Any) -> None:
    gateway = start_gateway(emulator)
    betas = "interleaved-thinking-2025-05-14,context-1m-2025-08-07"
    before = emulator.stats.betas[betas]
    with anthropic.Anthropic(base_url=gateway.anthropic_base_url, api_key="k", max_retries=0) as client:
        client.messages.create(
            model="haiku",
            max_tokens=20,
            messages=[{"role": "user", "content": "Hi"}],
            extra_headers={"anthropic-beta": betas},
        )
        with client.messages.stream(
            model="haiku",
            max_tokens=20,
            messages=[{"role": "user", "content": "Hi"}],
            extra_headers={"anthropic-beta": betas},
        ) as stream:
            stream.get_final_message()
    assert emulator.stats.betas[betas] - before == 2  # plain and streamed, passed through as sent
