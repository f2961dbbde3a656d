"""The Responses codec with no I/O: items to messages and back, answers, and streams decoded from
the encoder's own bytes (text, tool calls, reasoning, an answer that arrived in one piece, errors)."""

from __future__ import annotations

import json

import pytest

from inferopt.types import ChatResponse, TextDelta, ThinkingDelta, ThinkingPart, ToolCallDelta, Usage
from inferopt.wire import openai_responses as requests
from inferopt.wire import openai_responses_answer as responses
from inferopt.wire.common import StreamCut, StreamErrorEvent
from inferopt.wire.openai_responses_stream import ResponsesStreamDecoder, ResponsesStreamEncoder
from inferopt.wire.sse import Decoder

CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}


def test_input_items_become_chat_messages() -> None:
    request = requests.decode_request(
        {
            "model": "m",
            "instructions": "Be brief.",
            "input": [
                {"type": "message", "role": "developer", "content": "Use tools."},
                {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
                {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
            ],
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": True}},
            "reasoning": {"effort": "low"},
            "max_output_tokens": 50,
            "prompt_cache_key": "k",
        }
    )
    assert [m.role for m in request.messages] == ["system", "system", "user", "assistant", "tool"]
    assert request.messages[2].content == "Weather?"
    assert request.messages[3].tool_calls == [CALL]
    assert request.messages[4].tool_call_id == "call_1" and request.messages[4].content == "Sunny"
    assert request.tools == [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    ]
    assert request.tool_choice == {"type": "function", "function": {"name": "get_weather"}}
    assert request.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": True},
    }
    assert request.reasoning_effort == "low" and request.max_tokens == 50
    assert request.extra == {"prompt_cache_key": "k"}  # reaches the upstream verbatim


def test_image_parts_map_to_chat_parts() -> None:
    request = requests.decode_request(
        {
            "model": "m",
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is this?"},
                        {"type": "input_image", "image_url": "https://x/cat.png", "detail": "low"},
                    ],
                }
            ],
        }
    )
    assert request.messages[0].content == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
    ]


def test_request_round_trip_through_the_upstream_encoding() -> None:
    original = requests.decode_request(
        {
            "model": "m",
            "instructions": "Sys",
            "input": [
                {"role": "user", "content": "Hi"},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
                {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
            ],
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
        }
    )
    body = requests.encode_request(original, stream=True)
    assert body["stream"] is True and body["instructions"] == "Sys"
    again = requests.decode_request(body)
    assert [(m.role, m.text, m.tool_calls, m.tool_call_id) for m in again.messages] == [
        (m.role, m.text, m.tool_calls, m.tool_call_id) for m in original.messages
    ]
    assert again.tools is not None and again.tools[0]["function"]["name"] == "get_weather"


def answer(**fields: object) -> ChatResponse:
    base: dict[str, object] = {"id": "x", "model": "m", "content": "Hello", "usage": Usage(10, 5, cache_read_tokens=4)}
    return ChatResponse(**{**base, **fields})  # type: ignore[arg-type]


def test_answer_round_trip() -> None:
    echo = responses.Echo.of({"model": "m", "input": "Hi", "metadata": {"a": "b"}})
    body = responses.encode_response(
        answer(tool_calls=[CALL], thinking=[ThinkingPart("Let me think")], finish_reason="tool_calls"), echo
    )
    assert [item["type"] for item in body["output"]] == ["reasoning", "message", "function_call"]
    assert body["usage"]["input_tokens_details"]["cached_tokens"] == 4 and body["metadata"] == {"a": "b"}
    back = responses.decode_response(body, "m")
    assert back.content == "Hello" and back.tool_calls == [CALL] and back.usage == Usage(10, 5, cache_read_tokens=4)
    assert back.thinking == [ThinkingPart("Let me think")]
    cut = responses.encode_response(answer(finish_reason="length"), echo)
    assert cut["status"] == "incomplete" and responses.decode_response(cut, "m").finish_reason == "length"


def decode(stream: bytes) -> tuple[list[object], ChatResponse]:
    decoder = ResponsesStreamDecoder("m")
    deltas: list[object] = []
    events = Decoder()
    for i in range(0, len(stream), 7):  # cut anywhere
        for sse in events.feed(stream[i : i + 7]):
            deltas += decoder.feed(sse.data)
    return deltas, decoder.result()


def test_stream_round_trip_text_tools_and_thinking() -> None:
    encoder = ResponsesStreamEncoder("m", responses.Echo.of({"model": "m", "input": "Hi"}))
    out = encoder.start()
    out += encoder.delta(ThinkingDelta("Hmm. "))
    out += encoder.delta(TextDelta("Hel"))
    out += encoder.delta(TextDelta("lo"))
    out += encoder.delta(ToolCallDelta(0, "call_1", "get_weather", '{"city":'))
    out += encoder.delta(ToolCallDelta(0, arguments='"Paris"}'))
    out += encoder.done(answer(tool_calls=[CALL], finish_reason="tool_calls"))
    deltas, result = decode(out)
    assert [d for d in deltas if isinstance(d, TextDelta)] == [TextDelta("Hel"), TextDelta("lo")]
    assert [d for d in deltas if isinstance(d, ThinkingDelta)] == [ThinkingDelta("Hmm. ")]
    assert "".join(d.arguments for d in deltas if isinstance(d, ToolCallDelta)) == '{"city":"Paris"}'
    assert result.content == "Hello" and result.tool_calls == [CALL] and result.usage.output_tokens == 5
    final = json.loads(out.split(b"event: response.completed\ndata: ")[1])["response"]
    assert [item["type"] for item in final["output"]] == ["reasoning", "message", "function_call"]
    assert all(item["status"] == "completed" for item in final["output"])


def test_an_answer_that_arrived_whole_is_still_streamed_as_items() -> None:
    encoder = ResponsesStreamEncoder("m", responses.Echo.of({"model": "m", "input": "Hi"}))
    out = encoder.start() + encoder.done(answer(tool_calls=[CALL]))
    deltas, result = decode(out)
    assert TextDelta("Hello") in deltas and result.content == "Hello" and result.tool_calls == [CALL]


def test_stream_errors_and_cuts() -> None:
    encoder = ResponsesStreamEncoder("m", responses.Echo.of({"model": "m", "input": "Hi"}))
    failed = encoder.start() + encoder.delta(TextDelta("Hel")) + encoder.error({"message": "upstream gone"})
    with pytest.raises(StreamErrorEvent, match="upstream gone"):
        decode(failed)
    with pytest.raises(StreamCut):
        decode(encoder.start() + encoder.delta(TextDelta("Hel")))
