"""The JSON bodies our adapters send, checked field by field against each provider's format."""

import httpx
import pytest

from inferopt.errors import ContextWindowExceededError, RateLimitedError, ServerError
from inferopt.providers.base import Provider, http_error, iter_sse, parse_retry_after
from inferopt.types import ChatRequest, Message
from inferopt.wire import anthropic_messages as anth
from inferopt.wire import openai_chat as oai
from inferopt.wire.common import ErrorDetail
from inferopt.wire.sse import ServerSentEvent

CACHED_SYSTEM = Message("system", [{"type": "text", "text": "long rules", "cache_control": {"type": "ephemeral"}}])
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_openai_body_streams_with_usage_and_passes_extra() -> None:
    r = ChatRequest.of(
        "hi",
        model="gpt-4o",
        system="s",
        max_tokens=7,
        temperature=0.0,
        seed=3,
        extra={"prompt_cache_key": "tenant-1"},
    )
    body = oai.encode_request(r, stream=True)
    assert body["messages"] == [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]
    assert body["max_tokens"] == 7 and body["temperature"] == 0.0 and body["seed"] == 3
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["prompt_cache_key"] == "tenant-1"
    assert "top_p" not in body  # unset fields are not sent


@pytest.mark.parametrize("model", ["o3", "o4-mini", "gpt-5-mini", "openai/gpt-5"])
def test_openai_reasoning_models_get_max_completion_tokens(model: str) -> None:
    body = oai.encode_request(ChatRequest.of("x", model=model, max_tokens=9), stream=False)
    assert body["max_completion_tokens"] == 9 and "max_tokens" not in body


def test_openai_usage_reads_cached_and_reasoning_tokens() -> None:
    u = oai.decode_usage(
        {
            "prompt_tokens": 2006,
            "completion_tokens": 300,
            "prompt_tokens_details": {"cached_tokens": 1920},
            "completion_tokens_details": {"reasoning_tokens": 128},
        }
    )
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.reasoning_tokens) == (
        2006,
        1920,
        300,
        128,
    )


def test_anthropic_body_maps_system_blocks_tools_and_stop() -> None:
    r = ChatRequest(
        model="claude-sonnet-4-5",
        messages=[CACHED_SYSTEM, Message("user", "q")],
        stop=["END"],
        tools=[TOOL],
        tool_choice="required",
        user="u1",
    )
    body = anth.encode_request(r, stream=False)
    assert body["system"] == [{"type": "text", "text": "long rules", "cache_control": {"type": "ephemeral"}}]
    assert body["messages"] == [{"role": "user", "content": "q"}]
    assert body["max_tokens"] == anth.DEFAULT_MAX_TOKENS  # required by Anthropic
    assert body["stop_sequences"] == ["END"]
    assert body["tools"][0]["name"] == "get_weather" and "input_schema" in body["tools"][0]
    assert body["tool_choice"] == {"type": "any"} and body["metadata"] == {"user_id": "u1"}


def test_anthropic_plain_system_strings_join() -> None:
    r = ChatRequest(model="c", messages=[Message("system", "a"), Message("system", "b"), Message("user", "q")])
    assert anth.encode_request(r, stream=True)["system"] == "a\n\nb"


def test_anthropic_tool_round_trip_messages() -> None:
    call = {
        "id": "t1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    r = ChatRequest(
        model="c",
        messages=[
            Message("user", "w?"),
            Message("assistant", "", tool_calls=[call]),
            Message("tool", "rain", tool_call_id="t1"),
        ],
    )
    msgs = anth.encode_request(r, stream=False)["messages"]
    assert msgs[1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Oslo"}}],
    }
    assert msgs[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "rain"}],
    }


def test_anthropic_usage_adds_cache_tokens_back_into_input() -> None:
    u = anth.decode_usage(
        {
            "input_tokens": 50,
            "output_tokens": 20,
            "cache_read_input_tokens": 1000,
            "cache_creation_input_tokens": 3000,
            "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
        }
    )
    assert u.input_tokens == 4050 and u.uncached_input_tokens == 50
    assert (u.cache_read_tokens, u.cache_write_tokens, u.cache_write_1h_tokens) == (1000, 3000, 2000)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"retry-after-ms": "1500", "retry-after": "9"}, 1.5), ({"retry-after": "3"}, 3.0), ({}, None)],
)
def test_retry_after_prefers_milliseconds(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(httpx.Headers(headers)) == expected


def test_retry_after_http_date() -> None:
    headers = httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"})
    assert parse_retry_after(headers, now=lambda: 1445412480.0) == pytest.approx(10.0)


def test_error_mapping_and_key_redaction() -> None:
    p = Provider("acme", "http://x", api_key="sk-verysecretkey123")
    detail = ErrorDetail("bad key sk-verysecretkey123 used", "rate_limit_error", None)
    err = http_error(p, "m", 429, httpx.Headers({"retry-after": "2"}), b"sk-verysecretkey123", detail, "req_1")
    assert isinstance(err, RateLimitedError) and err.retry_after == 2.0 and err.retryable
    assert "sk-verysecret" not in str(err) and "sk-verysecret" not in (err.body or "") and "req_1" in str(err)
    ctx = ErrorDetail("prompt is too long: 250000 tokens > 200000 maximum", "invalid_request_error", None)
    assert isinstance(http_error(p, "m", 400, httpx.Headers(), b"", ctx, None), ContextWindowExceededError)
    assert isinstance(http_error(p, "m", 503, httpx.Headers(), b"", ctx, None), ServerError)
    assert not http_error(p, "m", 400, httpx.Headers(), b"", ErrorDetail("bad", None, None), None).retryable


async def test_sse_parser_handles_events_comments_and_multiline_data() -> None:
    raw = b': keep-alive\n\nevent: message_start\ndata: {"a":1}\n\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n'
    response = httpx.Response(200, content=raw)
    events = [e async for e in iter_sse(response)]
    assert events == [
        ServerSentEvent("message_start", '{"a":1}'),
        ServerSentEvent(None, "line1\nline2"),
        ServerSentEvent(None, "[DONE]"),
    ]
