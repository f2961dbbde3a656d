"""The Gemini codec without I/O: requests, answers and streams survive a round trip; refusals are errors."""

import json

import pytest

from inferopt.types import ChatRequest, ChatResponse, Message, StreamDone, TextDelta, ThinkingPart, ToolCallDelta, Usage
from inferopt.wire import gemini, gemini_request, gemini_response
from inferopt.wire.gemini_stream import GeminiStreamDecoder, GeminiStreamEncoder
from inferopt.wire.sse import Decoder

CALL = {
    "id": "call_gemini_0",
    "type": "function",
    "function": {"name": "lookup", "arguments": '{"q": "x"}'},
    "extra_content": {"google": {"thought_signature": "c2lnbmF0dXJl"}},
}


def conversation() -> ChatRequest:
    return ChatRequest(
        model="gemini-2.5-flash",
        messages=[
            Message("system", "Be brief."),
            Message("user", "Look it up"),
            Message("assistant", "", tool_calls=[CALL]),
            Message("tool", '{"found": 3}', tool_call_id="call_gemini_0"),
        ],
        tools=[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
        tool_choice={"type": "function", "function": {"name": "lookup"}},
        max_tokens=64,
        temperature=0.3,
        stop=["END"],
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}},
    )


def test_a_request_round_trips_with_its_tool_turns_and_signature() -> None:
    body = gemini.encode_request(conversation())
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    call_part = body["contents"][1]["parts"][0]
    assert call_part == {"functionCall": {"name": "lookup", "args": {"q": "x"}}, "thoughtSignature": "c2lnbmF0dXJl"}
    assert body["contents"][2]["parts"][0]["functionResponse"] == {"name": "lookup", "response": {"found": 3}}
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}}
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    decoded = gemini_request.decode_request(json.loads(json.dumps(body)), "models/gemini-2.5-flash")
    assert gemini.encode_request(decoded) == body  # nothing lost either way, the signature byte-exact


def test_snake_case_fields_are_read_as_gemini_reads_them() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "system_instruction": {"parts": [{"text": "sys"}]},
        "generation_config": {"max_output_tokens": 9, "thinking_config": {"include_thoughts": True}},
    }
    request = gemini_request.decode_request(body, "gemini-2.5-flash")
    assert request.max_tokens == 9 and request.system_text == "sys"
    assert request.extra["generationConfig"] == {"thinkingConfig": {"includeThoughts": True}}


def test_an_answer_round_trips_with_thoughts_calls_and_usage() -> None:
    answer = ChatResponse(
        id="r1",
        model="gemini-2.5-flash",
        content="Three.",
        usage=Usage(input_tokens=100, output_tokens=30, cache_read_tokens=64, reasoning_tokens=12),
        tool_calls=[CALL],
        thinking=[ThinkingPart("I count.", signature="sig")],
        finish_reason="tool_calls",
    )
    body = gemini_response.encode_response(answer)
    assert body["usageMetadata"] == {
        "promptTokenCount": 100,
        "candidatesTokenCount": 18,
        "totalTokenCount": 130,
        "cachedContentTokenCount": 64,
        "thoughtsTokenCount": 12,
    }
    back = gemini_response.decode_response(body, "gemini-2.5-flash")
    assert back.content == "Three." and back.usage == answer.usage and back.finish_reason == "tool_calls"
    assert back.tool_calls == [CALL] and back.thinking == [ThinkingPart("I count.", signature="sig")]


def test_a_blocked_prompt_and_a_safety_stop() -> None:
    with pytest.raises(gemini.PromptBlocked, match="SAFETY"):
        gemini_response.decode_response({"promptFeedback": {"blockReason": "SAFETY"}}, "m")
    stopped = gemini_response.decode_response(
        {"candidates": [{"content": {"parts": []}, "finishReason": "SAFETY"}]}, "m"
    )
    assert stopped.finish_reason == "content_filter" and stopped.refusal


def test_a_stream_encodes_and_decodes_to_the_same_answer() -> None:
    answer = ChatResponse(
        id="r2", model="gemini-2.5-flash", content="Hello there", usage=Usage(10, 4), tool_calls=[CALL]
    )
    encoder = GeminiStreamEncoder("gemini-2.5-flash", "r2")
    raw = encoder.text("Hello") + encoder.text(" there") + b"data: {not json\n\n" + encoder.done(answer)
    decoder, sse = GeminiStreamDecoder("gemini-2.5-flash"), Decoder()
    deltas = []
    for line in raw.decode().split("\n"):
        if (event := sse.feed_line(line)) is not None:
            deltas += decoder.feed(event.data)
    assert [d.text for d in deltas if isinstance(d, TextDelta)] == ["Hello", " there"]
    assert [d.name for d in deltas if isinstance(d, ToolCallDelta)] == ["lookup"]
    result = decoder.result()
    assert result.content == "Hello there" and result.usage == Usage(10, 4) and result.tool_calls == [CALL]
    assert result.annotations == {"malformed_events": 1}  # skipped, not fatal
    cut = GeminiStreamDecoder("m")
    cut.feed(json.dumps(gemini_response.encode_chunk([{"text": "half"}], "m", "r3")))
    assert not cut.complete and cut.partial().content == "half"
    assert isinstance(StreamDone(cut.partial()), StreamDone)


def test_retry_info_delay() -> None:
    body = json.dumps(
        {
            "error": {
                "code": 429,
                "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"}],
            }
        }
    )
    assert gemini.retry_delay_s(body) == 31.0 and gemini.retry_delay_s("{}") is None
