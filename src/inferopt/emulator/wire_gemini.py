"""The Gemini API as the emulator answers it: bodies, stream chunks and errors, by the product's codecs.

Requests are decoded by :mod:`inferopt.wire.gemini_request` into the same ``ChatRequest`` as every
other route (the model and streaming come from the path: ``models/{model}:generateContent`` or
``:streamGenerateContent?alt=sse``); answers are encoded by :mod:`inferopt.wire.gemini_response`
and :mod:`inferopt.wire.gemini_stream`. With ``thinkingConfig.includeThoughts`` the answer opens
with a thought summary, its tokens counted in ``thoughtsTokenCount``. Errors are Google's envelope
(``{"error": {"code", "message", "status"}}``), a 429 with a ``RetryInfo`` detail.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

from inferopt.emulator.asgi_io import Scope, header
from inferopt.emulator.calls import bad, parsed
from inferopt.emulator.dialect import ChatRoute
from inferopt.emulator.engine import Failure, ParsedCall, Plan
from inferopt.emulator.gemini_caches import CACHED_TOKENS_KEY
from inferopt.tokens import count_tokens
from inferopt.types import ChatResponse, ThinkingDelta, ThinkingPart
from inferopt.wire import gemini
from inferopt.wire.gemini_request import camel_case, decode_request
from inferopt.wire.gemini_response import encode_response
from inferopt.wire.gemini_stream import GeminiStreamEncoder
from inferopt.wire.sse import dumps

_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "stop_sequence": "STOP", "tool_calls": "STOP"}


def api_key(scope: Scope) -> str | None:
    """``x-goog-api-key``, or the ``key`` query parameter (both are Gemini's)."""
    value = (header(scope, b"x-goog-api-key") or "").strip()
    if value:
        return value
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("key") or [""])[0].strip() or None


def _problem(body: Any) -> Failure | None:
    if not isinstance(body, dict):
        return bad("Invalid JSON payload received. The request body must be a JSON object.")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return bad("* GenerateContentRequest.contents: contents is not specified")
    for i, content in enumerate(contents):
        if not isinstance(content, dict) or not isinstance(content.get("parts"), list) or not content["parts"]:
            return bad(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.")
        if content.get("role") not in (None, "user", "model"):
            return bad(f"Please use a valid role: user, model. (contents[{i}].role: {content.get('role')!r})")
    limit = (body.get("generationConfig") or {}).get("maxOutputTokens")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        return bad("* GenerateContentRequest.generation_config.max_output_tokens: must be a positive integer")
    return None


def gemini_call(body: Any, model: str, stream: bool) -> ParsedCall | Failure:
    """A ``generateContent`` body for ``model`` as a :class:`ParsedCall`, or the 400 it deserves."""
    problem = _problem(body)
    if problem is not None:
        return problem
    cached = int(body.pop(CACHED_TOKENS_KEY, 0) or 0)  # the prefix an explicit cache put first
    body = camel_case(body)
    thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    thoughts = bool(thinking.get("includeThoughts")) and thinking.get("thinkingBudget") != 0
    request = decode_request(body, model)
    return parsed(request, {"stream": stream}, context={"include_thoughts": thoughts}, cached_content_tokens=cached)


def _includes_thoughts(plan: Plan) -> bool:
    return isinstance(plan.context, dict) and bool(plan.context.get("include_thoughts"))


def plan_response(plan: Plan, response_id: str) -> ChatResponse:
    response = plan.response(response_id)
    response.provider_stop_reason = _FINISH.get(plan.answer.finish, "STOP")
    if _includes_thoughts(plan):
        summary = f"**Working out the answer**\n\nI considered {plan.answer.text[:60]!r} and how to phrase it."
        thought_tokens = count_tokens(summary, plan.model)
        response.thinking = [ThinkingPart(summary)]
        response.usage = replace(
            response.usage,
            output_tokens=response.usage.output_tokens + thought_tokens,
            reasoning_tokens=thought_tokens,
        )
    return response


def response_body(plan: Plan, response_id: str) -> bytes:
    return dumps(encode_response(plan_response(plan, response_id))).encode()


class PlanGeminiWriter:
    """The chunks of one streamed answer: the thought, then text pieces, then calls and the finish."""

    def __init__(self, plan: Plan, response_id: str) -> None:
        self._response = plan_response(plan, response_id)
        self._encoder = GeminiStreamEncoder(self._response.model, response_id)
        self._encoder.prompt_usage(replace(self._response.usage, output_tokens=0, reasoning_tokens=0))

    def first(self) -> bytes:
        return b"".join(self._encoder.delta(ThinkingDelta(t.text)) for t in self._response.thinking or ())

    def content(self, text: str) -> bytes:
        return self._encoder.text(text)

    def last(self) -> bytes:
        return self._encoder.done(self._response)


def error_body(failure: Failure, _request_id: str = "") -> bytes:
    """Google's error envelope, worded as the Gemini API words each failure."""
    kind, status = failure.kind, failure.status
    if kind == "auth":
        message = (
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key."
        )
    elif kind == "unknown_model":
        message = (
            f"models/{failure.model} is not found for API version v1beta, or is not supported for generateContent. "
            f"(models of this emulator: {', '.join(failure.known_models)})"
        )
    elif kind == "context_length":
        message = (
            f"The input token count ({failure.requested}) exceeds the maximum number of tokens allowed "
            f"({failure.limit})."
        )
    elif kind == "max_tokens":
        message = f"max_output_tokens {failure.requested} exceeds the model's limit of {failure.limit}."
    elif kind == "rate_limited":
        message = f"Resource has been exhausted (e.g. check quota). Model {failure.model} (emulated)"
    elif kind == "server_error":
        status = 503 if status == 529 else status
        message = "The model is overloaded. Please try again later. (emulated)"
    elif kind == "content_filter":
        message = "The request was blocked by the safety filters (emulated)"
    else:
        message = failure.message
    body = gemini.encode_error(status, message)
    if kind == "rate_limited" and failure.decision is not None and failure.decision.retry_after_s is not None:
        delay = max(1, math.ceil(failure.decision.retry_after_s))
        body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"}]
    return dumps(body).encode()


def dialect(model: str, stream: bool) -> ChatRoute:
    """The route of one ``models/{model}:...GenerateContent`` request."""
    return ChatRoute(
        provider="gemini",
        id_prefix="",
        request_id_header=b"x-goog-request-id",
        parse=lambda body, _scope: gemini_call(body, model, stream),
        api_key=api_key,
        error_body=error_body,
        limit_headers=lambda _decision: [],
        body=lambda plan, response_id, _created: response_body(plan, response_id),
        writer=lambda plan, response_id, _created, _usage: PlanGeminiWriter(plan, response_id),
    )
