"""The Gemini dialect of the gateway: ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse`` (and the ``/v1/models/...`` forms; ``:countTokens`` counted by the
gateway itself, ``x-inferopt-token-count: local``), so an app written with the
``google-genai`` SDK adopts the gateway by changing ``base_url``, whatever provider answers behind it.

Requests are checked at this edge and decoded by :mod:`inferopt.wire.gemini_request` (the model
comes from the path); answers and streams are written by :mod:`inferopt.wire.gemini_response` and
:mod:`inferopt.wire.gemini_stream`; errors are Google's envelope (``{"error": {code, message, status}}``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from inferopt.gateway.answering import prompt_usage
from inferopt.gateway.problems import Problem, invalid
from inferopt.gateway.validation import ParsedChat, RequestLimits, parse_json_object
from inferopt.types import ChatResponse, Delta
from inferopt.wire import gemini
from inferopt.wire.gemini_request import camel_case, decode_request
from inferopt.wire.gemini_response import encode_response
from inferopt.wire.gemini_stream import GeminiStreamEncoder
from inferopt.wire.sse import dumps

PATH = re.compile(
    r"^/(v1beta|v1)/models/(?P<model>[^/:]+):(?P<verb>generateContent|streamGenerateContent|countTokens)$"
)
ROUTE = "/v1beta/models:generateContent"  # the metrics label (one series, whatever the model)


def match(path: str) -> tuple[str, str] | None:
    """``(model, verb)`` when ``path`` is a Gemini generate or count route, else None."""
    found = PATH.match(path)
    return None if found is None else (found["model"], found["verb"])


def parse_gemini(data: dict[str, Any], model: str, stream: bool, limits: RequestLimits) -> ParsedChat | Problem:
    contents = data.get("contents")
    if not isinstance(contents, list) or not contents:
        return invalid("* GenerateContentRequest.contents: contents is not specified", param="contents")
    if len(contents) > limits.max_messages:
        return invalid(f"contents: too many ({len(contents)}; at most {limits.max_messages})", param="contents")
    for i, content in enumerate(contents):
        if not isinstance(content, dict) or not isinstance(content.get("parts"), list) or not content["parts"]:
            return invalid(f"* GenerateContentRequest.contents[{i}].parts: must not be empty", param="contents")
        if content.get("role") not in (None, "user", "model"):
            return invalid(f"Please use a valid role: user, model. (contents[{i}].role)", param="contents")
    body = camel_case(data)
    limit = (body.get("generationConfig") or {}).get("maxOutputTokens")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        return invalid("* GenerateContentRequest.generation_config.max_output_tokens: a positive integer")
    if isinstance(limit, int) and limit > limits.max_output_tokens:
        return invalid(f"maxOutputTokens: at most {limits.max_output_tokens}", param="maxOutputTokens")
    return ParsedChat(decode_request(body, model), stream, include_usage=True)


def parser(model: str, stream: bool) -> Any:
    def parse(raw: bytes, limits: RequestLimits) -> ParsedChat | Problem:
        data = parse_json_object(raw)
        return data if isinstance(data, Problem) else parse_gemini(data, model, stream, limits)

    return parse


def count_parser(model: str) -> Any:
    """``countTokens``: ``{contents}`` or ``{generateContentRequest: {...}}``, counted by the gateway."""

    def parse(raw: bytes, limits: RequestLimits) -> ParsedChat | Problem:
        data = parse_json_object(raw)
        if isinstance(data, Problem):
            return data
        inner = data.get("generateContentRequest") or data.get("generate_content_request")
        return parse_gemini(inner if isinstance(inner, dict) else data, model, False, limits)

    return parse


def count_body(tokens: int) -> bytes:
    return dumps({"totalTokens": tokens}).encode()


def response_body(response: ChatResponse, parsed: ParsedChat) -> bytes:
    return dumps(encode_response(response)).encode()


class GeminiWriter:
    """The gateway's stream writer over the codec's encoder (prompt usage on every chunk, as Gemini sends)."""

    def __init__(self, model: str, parsed: ParsedChat) -> None:
        self._encoder = GeminiStreamEncoder(model)
        usage = prompt_usage(parsed.request)
        if usage is not None:
            self._encoder.prompt_usage(replace(usage, output_tokens=0, reasoning_tokens=0))

    def start(self) -> bytes:
        return b""

    def delta(self, delta: Delta) -> bytes:
        return self._encoder.delta(delta)

    def done(self, response: ChatResponse) -> bytes:
        return self._encoder.done(response)

    def error(self, payload: dict[str, Any]) -> bytes:
        detail = payload.get("error") or {}
        return self._encoder.error(int(detail.get("code") or 500), str(detail.get("message") or "upstream error"))


def error_payload(problem: Problem) -> dict[str, Any]:
    return gemini.encode_error(problem.status, problem.message)


def error_body(problem: Problem) -> bytes:
    return dumps(error_payload(problem)).encode()
