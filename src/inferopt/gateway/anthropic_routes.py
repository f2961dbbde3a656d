"""The Anthropic Messages dialect of the gateway: ``POST /v1/messages``, checked here, mapped by the codec.

Requests are checked at this edge and mapped to the neutral :class:`~inferopt.types.ChatRequest`
by :mod:`inferopt.wire.anthropic_messages` (the inverse of what an Anthropic upstream is sent, so
``cache_control`` on system, message and tool blocks and thinking signatures survive the round
trip). Answers are written as Anthropic ``message`` objects and event streams by the same codec,
so the official ``anthropic`` SDK works unchanged against the gateway whatever provider answers
behind it.
"""

from __future__ import annotations

from typing import Any

from inferopt.gateway.answering import prompt_usage
from inferopt.gateway.problems import Problem, invalid
from inferopt.gateway.validation import (
    ParsedChat,
    RequestLimits,
    check_max_tokens,
    check_number,
    check_stop,
    parse_json_object,
)
from inferopt.types import ChatResponse
from inferopt.wire import anthropic_messages
from inferopt.wire.anthropic_stream import AnthropicStreamEncoder
from inferopt.wire.sse import dumps


def _check_content(content: Any, where: str) -> Problem | None:
    if isinstance(content, str):
        return None
    if not isinstance(content, list) or not all(isinstance(b, dict) and "type" in b for b in content):
        return invalid(f"{where}.content must be a string or a list of blocks with a 'type'", param=where)
    return None


def parse_anthropic(data: dict[str, Any], limits: RequestLimits) -> ParsedChat | Problem:
    """A ``/v1/messages`` body as a :class:`ParsedChat`, or the 400 it deserves."""
    model = data.get("model")
    if not isinstance(model, str) or not model:
        return invalid("model: Field required (a model alias or id)", param="model")
    max_tokens = check_max_tokens(data, "max_tokens", limits)
    if max_tokens is None:
        return invalid("max_tokens: Field required (the most tokens the answer may have)", param="max_tokens")
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        return invalid("messages: a non-empty list of {role, content} is required", param="messages")
    if len(raw) > limits.max_messages:
        return invalid(f"messages: too many ({len(raw)}; at most {limits.max_messages})", param="messages")
    for i, item in enumerate(raw):
        where = f"messages.{i}"
        if not isinstance(item, dict) or item.get("role") not in ("user", "assistant"):
            return invalid(f"{where}.role: Input should be 'user' or 'assistant'", param=where)
        if (problem := _check_content(item.get("content"), where)) is not None:
            return problem
    checks: dict[str, Any] = {
        "temperature": check_number(data, "temperature", 0, 1),
        "top_p": check_number(data, "top_p", 0, 1),
        "stop": check_stop(data.get("stop_sequences"), "stop_sequences"),
    }
    problem = next((v for v in (max_tokens, *checks.values()) if isinstance(v, Problem)), None)
    if problem is not None:
        return problem
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        return invalid("stream: Input should be a valid boolean", param="stream")
    tools = data.get("tools")
    if tools is not None and not isinstance(tools, list):
        return invalid("tools: Input should be a valid list", param="tools")
    request = anthropic_messages.decode_request(data)
    request.temperature, request.top_p, request.stop = checks["temperature"], checks["top_p"], checks["stop"]
    return ParsedChat(request, stream)


def parse(body: bytes, limits: RequestLimits) -> ParsedChat | Problem:
    data = parse_json_object(body)
    return data if isinstance(data, Problem) else parse_anthropic(data, limits)


def parse_count(body: bytes, limits: RequestLimits) -> ParsedChat | Problem:
    """A ``/v1/messages/count_tokens`` body: a Messages body without ``max_tokens``."""
    data = parse_json_object(body)
    if isinstance(data, Problem):
        return data
    return parse_anthropic({**data, "max_tokens": 1, "stream": False}, limits)


def count_body(input_tokens: int) -> bytes:
    return dumps({"input_tokens": input_tokens}).encode()


def message_body(response: ChatResponse) -> bytes:
    return dumps(anthropic_messages.encode_response(response)).encode()


def stream_writer(model: str, parsed: ParsedChat) -> AnthropicStreamEncoder:
    return AnthropicStreamEncoder(model, prompt_usage=prompt_usage(parsed.request))


def error_payload(problem: Problem) -> dict[str, Any]:
    return problem.anthropic_error()
