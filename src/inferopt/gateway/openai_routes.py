"""The OpenAI chat-completions dialect of the gateway: parse requests, write answers and chunks.

Answers follow OpenAI's shapes (``chat.completion``, ``chat.completion.chunk`` events ending with
``data: [DONE]``, a usage chunk when ``stream_options.include_usage`` is set, errors as
``{"error": {...}}``), so the official ``openai`` SDK works unchanged against the gateway. A
stream that fails after it started ends with ``data: {"error": {...}}`` and no ``[DONE]``: the
SDK raises ``APIError`` instead of returning a silently truncated answer.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from inferopt.gateway.problems import Problem
from inferopt.gateway.validation import ParsedChat, RequestLimits, parse_json_object, parse_openai_chat
from inferopt.types import ChatResponse, Usage

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_FINISH = {"error": "stop"}  # OpenAI has no "error" finish reason; the error itself is reported separately
DONE = b"data: [DONE]\n\n"


def parse(body: bytes, limits: RequestLimits) -> ParsedChat | Problem:
    data = parse_json_object(body)
    return data if isinstance(data, Problem) else parse_openai_chat(data, limits)


def usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def completion_id() -> str:
    return "chatcmpl-gw-" + os.urandom(12).hex()


def completion_body(response: ChatResponse) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": response.content}
    if response.tool_calls:
        message["tool_calls"] = response.tool_calls
    return _dumps(
        {
            "id": response.id or completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": response.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": _FINISH.get(response.finish_reason, response.finish_reason),
                    "logprobs": _logprobs(response),
                }
            ],
            "usage": usage_json(response.usage),
        }
    ).encode()


def _logprobs(response: ChatResponse) -> dict[str, Any] | None:
    """The upstream's token log-probabilities, when the request asked for them (``logprobs: true``)."""
    content = response.annotations.get("logprobs_content")
    return {"content": content, "refusal": None} if content is not None else None


class ChunkWriter:
    """The SSE bytes of one streamed completion, built around a fixed prefix per chunk."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self.id = completion_id()
        self.model = model
        self.include_usage = include_usage
        self.created = int(time.time())
        # Every content chunk differs only in its text: build the rest once.
        head = _dumps({"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": model})
        self._prefix = b"data: " + head[:-1].encode() + b',"choices":[{"index":0,"delta":{"content":'
        self._suffix = b'},"finish_reason":null}]}\n\n'

    def _chunk(self, choices: list[dict[str, Any]], **more: Any) -> bytes:
        payload = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            **more,
        }
        return b"data: " + _dumps(payload).encode() + b"\n\n"

    def start(self) -> bytes:
        return self._chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])

    def delta(self, text: str) -> bytes:
        return self._prefix + _dumps(text).encode() + self._suffix

    def done(self, response: ChatResponse) -> bytes:
        pieces = []
        if response.tool_calls:
            calls = [{"index": i, **call} for i, call in enumerate(response.tool_calls)]
            pieces.append(self._chunk([{"index": 0, "delta": {"tool_calls": calls}, "finish_reason": None}]))
        reason = _FINISH.get(response.finish_reason, response.finish_reason)
        finish: dict[str, Any] = {"index": 0, "delta": {}, "finish_reason": reason}
        if (logprobs := _logprobs(response)) is not None:
            finish["logprobs"] = logprobs  # all at the end: the answer's text was relayed as it came
        pieces.append(self._chunk([finish]))
        if self.include_usage:
            pieces.append(self._chunk([], usage=usage_json(response.usage)))
        pieces.append(DONE)
        return b"".join(pieces)

    def error(self, problem: Problem) -> bytes:
        # The openai SDK raises APIError on a chunk carrying "error"; no [DONE] follows.
        return b"data: " + _dumps({"error": problem.openai_error()}).encode() + b"\n\n"


def models_body(names: list[str]) -> bytes:
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "inferopt-gateway"} for n in names]
    return _dumps({"object": "list", "data": data}).encode()
