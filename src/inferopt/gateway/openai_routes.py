"""The OpenAI chat-completions dialect of the gateway: check requests, hand the rest to the codec.

Answers follow OpenAI's shapes (``chat.completion``, ``chat.completion.chunk`` events ending with
``data: [DONE]``, a usage chunk when ``stream_options.include_usage`` is set, errors as
``{"error": {...}}``), written by :mod:`inferopt.wire.openai_chat`, so the official ``openai`` SDK
works unchanged against the gateway. A stream that fails after it started ends with
``data: {"error": {...}}`` and no ``[DONE]``: the SDK raises ``APIError`` instead of returning a
silently truncated answer.
"""

from __future__ import annotations

from typing import Any

from inferopt.gateway.problems import Problem
from inferopt.gateway.validation import ParsedChat, RequestLimits, parse_json_object, parse_openai_chat
from inferopt.types import ChatResponse
from inferopt.wire import openai_chat
from inferopt.wire.openai_chat_stream import ChatStreamEncoder
from inferopt.wire.sse import dumps


def parse(body: bytes, limits: RequestLimits) -> ParsedChat | Problem:
    data = parse_json_object(body)
    return data if isinstance(data, Problem) else parse_openai_chat(data, limits)


def completion_body(response: ChatResponse) -> bytes:
    return dumps(openai_chat.encode_response(response)).encode()


def stream_writer(model: str, include_usage: bool) -> ChatStreamEncoder:
    return ChatStreamEncoder(model, include_usage)


def error_payload(problem: Problem) -> dict[str, Any]:
    return {"error": problem.openai_error()}


def models_body(names: list[str]) -> bytes:
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "inferopt-gateway"} for n in names]
    return dumps({"object": "list", "data": data}).encode()
