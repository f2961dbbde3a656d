"""The OpenAI chat codec without HTTP: golden payloads decoded and re-encoded, the spec and SDK as oracles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from inferopt.types import ChatRequest, ChatResponse, Message, StreamDone, TextDelta, ToolCallDelta, Usage
from inferopt.wire import openai_chat
from inferopt.wire.common import StreamCut, StreamErrorEvent
from inferopt.wire.openai_chat_stream import ChatStreamDecoder, ChatStreamEncoder
from inferopt.wire.sse import Decoder

GOLDEN = Path(__file__).parent / "golden"


def golden_json(name: str) -> dict:
    return json.loads((GOLDEN / name).read_text())


def decode_stream(raw: bytes, model: str = "m") -> tuple[list, ChatResponse]:
    decoder = ChatStreamDecoder(model)
    deltas = []
    sse = Decoder()
    for event in [*sse.feed(raw), *sse.close()]:
        deltas += decoder.feed(event.data)
    return deltas, decoder.result()


def encode_stream(response: ChatResponse, deltas: list, include_usage: bool = True) -> bytes:
    encoder = ChatStreamEncoder(response.model, include_usage)
    return encoder.start() + b"".join(encoder.delta(d) for d in deltas) + encoder.done(response)


def test_spec_examples_decode_and_reencode_to_the_same_answer(openai_spec: Any) -> None:
    plain = openai_chat.decode_response(golden_json("openai_chat_default.json"), "m")
    assert plain.content == "Hello! How can I assist you today?" and plain.finish_reason == "stop"
    assert plain.usage.input_tokens == 19 and plain.usage.output_tokens == 10
    call = openai_chat.decode_response(golden_json("openai_chat_functions.json"), "m")
    assert call.finish_reason == "tool_calls" and call.content == ""
    assert json.loads(call.tool_calls[0]["function"]["arguments"]) == {"location": "Boston, MA"}
    for response in (plain, call):
        body = openai_chat.encode_response(response)
        openai_spec(body, "CreateChatCompletionResponse")
        ChatCompletion.model_validate(body)
        again = openai_chat.decode_response(body, "m")
        assert (again.content, again.tool_calls, again.usage, again.finish_reason) == (
            response.content,
            response.tool_calls,
            response.usage,
            response.finish_reason,
        )


def test_streamed_tool_call_fragments_arrive_as_deltas_and_merge_into_valid_json(openai_spec: Any) -> None:
    deltas, response = decode_stream((GOLDEN / "openai_chat_stream_tools.sse").read_bytes())
    fragments = [d for d in deltas if isinstance(d, ToolCallDelta)]
    assert fragments[0].id == "call_DdmO9pD3xa9XTPNJ32zg2hcA" and fragments[0].name == "get_weather"
    assert "".join(f.arguments for f in fragments) == '{"location":"Paris, France"}'
    assert response.finish_reason == "tool_calls"
    assert json.loads(response.tool_calls[0]["function"]["arguments"]) == {"location": "Paris, France"}
    assert response.usage == Usage(input_tokens=71, output_tokens=17)

    # Re-encoded as we relay it (each fragment as it came), every chunk is a valid SDK chunk and the
    # stream decodes to the same answer.
    raw = encode_stream(response, deltas)
    for event in Decoder().feed(raw):
        if event.data != "[DONE]":
            chunk = json.loads(event.data)
            ChatCompletionChunk.model_validate(chunk)
            openai_spec(chunk, "CreateChatCompletionStreamResponse")
    again_deltas, again = decode_stream(raw)
    assert again.tool_calls == response.tool_calls and again.usage == response.usage
    assert [d for d in again_deltas if isinstance(d, ToolCallDelta)] == fragments


def test_tool_calls_of_an_unstreamed_answer_are_sent_before_the_finish() -> None:
    response = openai_chat.decode_response(golden_json("openai_chat_functions.json"), "m")
    _, again = decode_stream(encode_stream(response, []))
    assert again.tool_calls == response.tool_calls and again.finish_reason == "tool_calls"


def test_a_cut_stream_and_an_error_chunk_are_failures_not_answers() -> None:
    raw = (GOLDEN / "openai_chat_stream_tools.sse").read_bytes()
    cut = raw[: raw.index(b'"finish_reason":"tool_calls"')]
    with pytest.raises(StreamCut, match=r"\[DONE\]"):
        decode_stream(cut[: cut.rindex(b"\n\n") + 2])
    decoder = ChatStreamDecoder("m")
    with pytest.raises(StreamErrorEvent, match="overloaded"):
        decoder.feed('{"error": {"message": "overloaded", "type": "server_error"}}')


def test_a_stream_with_its_finish_and_usage_but_no_done_marker_is_complete() -> None:
    raw = (GOLDEN / "openai_chat_stream_tools.sse").read_bytes().replace(b"data: [DONE]\n\n", b"")
    _, response = decode_stream(raw)
    assert response.usage.output_tokens == 17


def test_one_malformed_chunk_is_skipped_and_counted_not_fatal() -> None:
    raw = (GOLDEN / "openai_chat_stream_tools.sse").read_bytes()
    at = raw.index(b"data: ", 10)
    _, response = decode_stream(raw[:at] + b"data: {this is not json\n\n" + raw[at:])
    _, whole = decode_stream(raw)
    assert response.tool_calls == whole.tool_calls and response.usage == whole.usage
    assert response.annotations["malformed_events"] == 1 and "malformed_events" not in whole.annotations


def test_request_round_trip_keeps_every_mapped_field_and_passes_the_rest() -> None:
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "max_completion_tokens": 50,
        "temperature": 0.2,
        "stop": "END",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "required",
        "response_format": {"type": "json_object"},
        "prompt_cache_key": "tenant-1",
    }
    request = openai_chat.decode_request(body)
    assert request.messages[0] == Message("system", "be brief") and request.max_tokens == 50
    assert request.stop == ["END"] and request.extra == {"prompt_cache_key": "tenant-1"}
    again = openai_chat.encode_request(request, stream=False)
    assert again["tools"] == body["tools"] and again["tool_choice"] == "required"
    assert again["max_tokens"] == 50 and again["prompt_cache_key"] == "tenant-1"
    assert (
        openai_chat.encode_request(ChatRequest.of("x", model="o3", max_tokens=9), stream=True)["max_completion_tokens"]
        == 9
    )


def test_text_stream_relays_each_piece_and_ends_once() -> None:
    response = ChatResponse("id", "gpt-4o", "Hello world", Usage(3, 2))
    deltas = [TextDelta("Hello"), TextDelta(" world")]
    raw = encode_stream(response, deltas)
    assert raw.count(b"data: [DONE]") == 1 and raw.endswith(b"data: [DONE]\n\n")
    again_deltas, again = decode_stream(raw)
    assert again_deltas == deltas and again.content == "Hello world" and again.usage == Usage(3, 2)
    assert not isinstance(again, StreamDone)
