"""The Anthropic Messages codec without HTTP: golden payloads decoded and re-encoded, the SDK's types as oracle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from anthropic.types import Message as SDKMessage
from anthropic.types import RawMessageStreamEvent
from pydantic import TypeAdapter

from inferopt.types import ChatRequest, ChatResponse, Message, TextDelta, ThinkingDelta, ThinkingPart, ToolCallDelta
from inferopt.wire import anthropic_messages as wire
from inferopt.wire.anthropic_stream import AnthropicStreamDecoder, AnthropicStreamEncoder
from inferopt.wire.common import StreamCut, StreamErrorEvent
from inferopt.wire.sse import Decoder

GOLDEN = Path(__file__).parent / "golden"
EVENTS = TypeAdapter(RawMessageStreamEvent)


def decode_stream(raw: bytes) -> tuple[list, ChatResponse]:
    decoder = AnthropicStreamDecoder("m")
    deltas = []
    sse = Decoder()
    for event in [*sse.feed(raw), *sse.close()]:
        deltas += decoder.feed(event.event, event.data)
    return deltas, decoder.result()


def encode_stream(response: ChatResponse, deltas: list) -> bytes:
    encoder = AnthropicStreamEncoder(response.model)
    return encoder.start() + b"".join(encoder.delta(d) for d in deltas) + encoder.done(response)


def sdk_events(raw: bytes) -> list:
    """Every event parsed by the anthropic SDK's own union type (a shape it rejects fails here)."""
    out = []
    for event in Decoder().feed(raw):
        payload = json.loads(event.data)
        assert payload["type"] == event.event
        if event.event != "ping":
            out.append(EVENTS.validate_python(payload))
    return out


def test_golden_message_decodes_usage_thinking_and_tools_and_reencodes_for_the_sdk() -> None:
    response = wire.decode_response(json.loads((GOLDEN / "anthropic_message_tool_use.json").read_text()), "m")
    # input_tokens excludes cache reads and writes on the wire; ours counts every prompt token.
    assert response.usage.input_tokens == 2095 + 1200 + 300
    assert (response.usage.cache_read_tokens, response.usage.cache_write_tokens) == (300, 1200)
    assert response.usage.cache_write_1h_tokens == 1000
    assert response.finish_reason == "tool_calls" and response.provider_stop_reason == "tool_use"
    assert response.thinking == [
        ThinkingPart(
            "The user wants the weather; I should call the tool.", "ErUBCkYIBRgCIkB3dF0tSMmwXRn8f8NbWPeWm0yJg0"
        )
    ]
    assert json.loads(response.tool_calls[0]["function"]["arguments"]) == {
        "location": "San Francisco, CA",
        "unit": "celsius",
    }
    body = wire.encode_response(response)
    sdk = SDKMessage.model_validate(body)
    assert [b.type for b in sdk.content] == ["thinking", "text", "tool_use"]
    assert sdk.usage.cache_creation.ephemeral_1h_input_tokens == 1000 and sdk.usage.input_tokens == 2095
    again = wire.decode_response(body, "m")
    assert (again.usage, again.thinking, again.tool_calls, again.content) == (
        response.usage,
        response.thinking,
        response.tool_calls,
        response.content,
    )


def test_streamed_tool_use_relays_text_and_argument_fragments_as_they_come() -> None:
    deltas, response = decode_stream((GOLDEN / "anthropic_stream_tool_use.sse").read_bytes())
    assert [d.text for d in deltas if isinstance(d, TextDelta)] == [
        "Okay",
        ", let's check the weather for San Francisco, CA:",
    ]
    tools = [d for d in deltas if isinstance(d, ToolCallDelta)]
    assert tools[0] == ToolCallDelta(0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", "")
    assert json.loads("".join(t.arguments for t in tools)) == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert response.finish_reason == "tool_calls" and response.usage.output_tokens == 89
    assert response.usage.input_tokens == 472

    raw = encode_stream(response, deltas)
    events = sdk_events(raw)
    assert [e.type for e in events][-2:] == ["message_delta", "message_stop"]
    again_deltas, again = decode_stream(raw)
    assert again_deltas == deltas and again.tool_calls == response.tool_calls and again.usage == response.usage


def test_thinking_streams_with_its_signature_byte_exact() -> None:
    deltas, response = decode_stream((GOLDEN / "anthropic_stream_thinking.sse").read_bytes())
    thinking = [d for d in deltas if isinstance(d, ThinkingDelta)]
    assert thinking[-1].signature == "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..."
    assert response.thinking[0].text.endswith("So GCD(1071, 462) = 21")
    assert response.content == "The greatest common divisor of 1071 and 462 is **21**."
    raw = encode_stream(response, deltas)
    starts = [e for e in sdk_events(raw) if e.type == "content_block_start"]
    assert [s.content_block.type for s in starts] == ["thinking", "text"]
    again_deltas, again = decode_stream(raw)
    assert again.thinking == response.thinking and again_deltas == deltas


def test_tool_calls_of_an_unstreamed_answer_become_blocks_at_the_end() -> None:
    response = wire.decode_response(json.loads((GOLDEN / "anthropic_message_tool_use.json").read_text()), "m")
    _, again = decode_stream(encode_stream(response, [TextDelta(response.content)]))
    assert again.tool_calls == response.tool_calls and again.content == response.content


def test_a_cut_stream_and_an_error_event_are_failures_not_answers() -> None:
    raw = (GOLDEN / "anthropic_stream_tool_use.sse").read_bytes()
    with pytest.raises(StreamCut, match="message_stop"):
        decode_stream(raw[: raw.index(b"event: message_delta")])
    with pytest.raises(StreamErrorEvent, match="Overloaded") as caught:
        AnthropicStreamDecoder("m").feed(
            "error", '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
        )
    assert caught.value.detail.type == "overloaded_error"


def test_a_stream_whose_final_usage_arrived_is_complete_without_message_stop() -> None:
    raw = (GOLDEN / "anthropic_stream_tool_use.sse").read_bytes()
    _, response = decode_stream(raw[: raw.index(b"event: message_stop")])
    _, whole = decode_stream(raw)
    assert (response.content, response.usage, response.tool_calls) == (whole.content, whole.usage, whole.tool_calls)


def test_one_malformed_event_is_skipped_and_counted_not_fatal() -> None:
    raw = (GOLDEN / "anthropic_stream_tool_use.sse").read_bytes()
    at = raw.index(b"event: message_delta")
    _, response = decode_stream(raw[:at] + b"event: content_block_delta\ndata: {not json\n\n" + raw[at:])
    _, whole = decode_stream(raw)
    assert response.content == whole.content and response.tool_calls == whole.tool_calls
    assert response.annotations["malformed_events"] == 1 and "malformed_events" not in whole.annotations


def test_request_round_trip_keeps_cache_control_thinking_signatures_and_tools() -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": [
            {"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
        ],
        "messages": [
            {"role": "user", "content": "What's the weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "call the tool", "signature": "sig/+=="},
                    {"type": "tool_use", "id": "tu_1", "name": "get_weather", "input": {"city": "Paris"}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "18C"}]},
        ],
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
        "tool_choice": {"type": "any"},
        "thinking": {"type": "enabled", "budget_tokens": 2000},
    }
    request = wire.decode_request(body)
    assert request.tool_choice == "required" and request.extra == {"thinking": body["thinking"]}
    assert request.messages[-1] == Message("tool", "18C", tool_call_id="tu_1")
    again = wire.encode_request(request, stream=False)
    assert again["system"] == body["system"] and again["tools"] == body["tools"]
    assert again["messages"] == body["messages"] and again["tool_choice"] == {"type": "any"}
    assert again["thinking"] == body["thinking"]
    plain = wire.encode_request(ChatRequest.of("x", model="claude", tool_choice="auto"), stream=True)
    assert plain["tool_choice"] == {"type": "auto"} and plain["stream"] is True


def test_stop_reasons_map_both_ways_in_one_place() -> None:
    for native, neutral in wire.STOP_REASONS.items():
        response = ChatResponse("i", "m", "", wire.decode_usage(None), neutral, provider_stop_reason=native)
        assert wire.stop_reason(response) == native  # an Anthropic answer keeps its own reason
    from_openai = ChatResponse("i", "m", "", wire.decode_usage(None), "length", provider_stop_reason="length")
    assert wire.stop_reason(from_openai) == "max_tokens"
