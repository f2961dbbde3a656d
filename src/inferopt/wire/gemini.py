"""The Gemini API (``generateContent``), both directions, with no I/O: requests, answers, usage, errors.

The neutral types are OpenAI-shaped (:mod:`inferopt.types`); this module maps them to and from
``POST /v1beta/models/{model}:generateContent``. System messages become ``systemInstruction``;
assistant turns are ``role: "model"``; OpenAI-style tools become ``functionDeclarations`` (their
JSON schema sent as ``parametersJsonSchema``), tool calls ``functionCall`` parts and tool results
``functionResponse`` parts (named by the call they answer). ``response_format`` json_schema becomes
``responseMimeType: application/json`` with ``responseJsonSchema``; ``reasoning_effort`` becomes a
``thinkingConfig``. Body fields of Gemini's own (``safetySettings``, ``cachedContent``, a
``generationConfig`` of extra settings) travel in ``ChatRequest.extra``.

Thought parts (``thought: true``) are the answer's thinking; a ``thoughtSignature`` on a function
call is kept in the call's ``extra_content.google.thought_signature`` (as Google's OpenAI-compatible
endpoint does) and sent back on the next turn, byte-exact.

Usage: ``promptTokenCount`` is every prompt token (``cachedContentTokenCount`` a part of it);
output is ``candidatesTokenCount`` plus ``thoughtsTokenCount`` (thoughts are billed as output).
A prompt blocked by safety filters (``promptFeedback.blockReason``, no candidate) is a
:class:`PromptBlocked`. Streams live in :mod:`.gemini_stream`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from inferopt.types import ChatRequest, ContentPart, FinishReason, Message, Usage
from inferopt.wire.common import ErrorDetail, Refused

API_VERSION = "v1beta"
FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}
NEUTRAL_FINISH_REASONS = {"stop": "STOP", "tool_calls": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}
# HTTP status -> the google.rpc status name Gemini puts in its error bodies.
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_THINKING_BUDGETS = {"minimal": 512, "low": 1024, "medium": 8192, "high": 24576}


class PromptBlocked(Refused):
    """The prompt was blocked by the provider's safety filters: there is no answer to decode."""

    def __init__(self, reason: str, message: str = "") -> None:
        said = f": {message}" if message else ""
        super().__init__(
            reason,
            f"the prompt was blocked by the safety filters ({reason}){said}; rephrase it, or set safetySettings",
        )


def model_path(model: str, method: str) -> str:
    """``/v1beta/models/{model}:{method}`` (a ``models/`` prefix on ``model`` is accepted)."""
    return f"/{API_VERSION}/models/{model.removeprefix('models/')}:{method}"


# -- usage, finish reasons, errors ----------------------------------------------------------------


def decode_usage(data: dict[str, Any] | None) -> Usage:
    if not data:
        return Usage()
    thoughts = int(data.get("thoughtsTokenCount") or 0)
    return Usage(
        input_tokens=int(data.get("promptTokenCount") or 0) + int(data.get("toolUsePromptTokenCount") or 0),
        output_tokens=int(data.get("candidatesTokenCount") or 0) + thoughts,
        cache_read_tokens=int(data.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": usage.output_tokens - usage.reasoning_tokens,
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
    }
    if usage.cache_read_tokens:
        out["cachedContentTokenCount"] = usage.cache_read_tokens
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    return out


def finish_reason(native: str | None, has_tool_calls: bool) -> FinishReason:
    if has_tool_calls and native in (None, "STOP"):
        return "tool_calls"
    return FINISH_REASONS.get(native or "STOP", "stop")


def decode_error(body: bytes | str) -> ErrorDetail:
    """``{"error": {"code": 429, "message": ..., "status": "RESOURCE_EXHAUSTED"}}``."""
    try:
        err = json.loads(body).get("error")
    except (ValueError, AttributeError):
        err = None
    if isinstance(err, dict):
        return ErrorDetail(str(err.get("message") or ""), err.get("status"), err.get("status"))
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return ErrorDetail(text[:500] or "(empty body)", None, None)


def retry_delay_s(body: bytes | str) -> float | None:
    """The ``retryDelay`` of an error body's ``google.rpc.RetryInfo`` detail (``"7s"``), in seconds."""
    try:
        details = json.loads(body)["error"].get("details") or []
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            try:
                return max(0.0, float(str(detail.get("retryDelay", "")).removesuffix("s")))
            except ValueError:
                return None
    return None


def encode_error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN")}}


# -- requests: neutral -> Gemini -------------------------------------------------------------------


def _parts(content: str | list[ContentPart]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    out: list[dict[str, Any]] = []
    for part in content:
        if part.get("type") == "text":
            out.append({"text": str(part.get("text", ""))})
        elif part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if url.startswith("data:"):
                media, _, data = url[5:].partition(";base64,")
                out.append({"inlineData": {"mimeType": media, "data": data}})
            else:
                out.append({"fileData": {"fileUri": url}})
        elif "gemini_part" in part:  # a part of Gemini's own kind, kept from a decoded request
            out.append(part["gemini_part"])
    return out


def _arguments(text: str | None) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return {"arguments": text}


def _call_part(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    part: dict[str, Any] = {
        "functionCall": {"name": function.get("name", ""), "args": _arguments(function.get("arguments"))}
    }
    if call.get("id") and not str(call["id"]).startswith("call_gemini_"):
        part["functionCall"]["id"] = call["id"]
    signature = ((call.get("extra_content") or {}).get("google") or {}).get("thought_signature")
    if signature:
        part["thoughtSignature"] = signature
    return part


def _result(content: str | list[ContentPart]) -> dict[str, Any]:
    text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    return value if isinstance(value, dict) else {"result": value}


def encode_contents(messages: list[Message]) -> list[dict[str, Any]]:
    """The turns of ``messages`` (system ones left out), tool results named after their calls."""
    names: dict[str, str] = {}
    contents: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            response = {"name": names.get(m.tool_call_id or "", m.name or ""), "response": _result(m.content)}
            if m.tool_call_id and not m.tool_call_id.startswith("call_gemini_"):
                response["id"] = m.tool_call_id
            part = {"functionResponse": response}
            if contents and contents[-1]["role"] == "user" and "functionResponse" in contents[-1]["parts"][0]:
                contents[-1]["parts"].append(part)  # parallel calls' results go back in one turn
            else:
                contents.append({"role": "user", "parts": [part]})
            continue
        parts = _parts(m.content)
        for call in m.tool_calls or ():
            names[str(call.get("id", ""))] = (call.get("function") or {}).get("name", "")
            parts.append(_call_part(call))
        contents.append({"role": "model" if m.role == "assistant" else "user", "parts": parts or [{"text": ""}]})
    return contents


def _tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    declarations = []
    for tool in tools:
        if tool.get("type") != "function":
            continue
        function = tool.get("function") or {}
        declaration: dict[str, Any] = {"name": function.get("name", "")}
        if function.get("description"):
            declaration["description"] = function["description"]
        if function.get("parameters"):
            declaration["parametersJsonSchema"] = function["parameters"]
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}] if declarations else []


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if choice in (None, "auto"):
        return None
    if choice == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    if choice == "required":
        return {"functionCallingConfig": {"mode": "ANY"}}
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name", "")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    return None


def thinking_config(model: str, effort: str) -> dict[str, Any]:
    """``reasoning_effort`` as Gemini's ``thinkingConfig``: a level on Gemini 3, a token budget before."""
    if model.removeprefix("models/").startswith("gemini-3"):
        return {"thinkingLevel": "low" if effort in ("minimal", "low") else "high"}
    return {"thinkingBudget": _THINKING_BUDGETS.get(effort, 8192)}


def _generation_config(request: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name, value in (
        ("temperature", request.temperature),
        ("topP", request.top_p),
        ("maxOutputTokens", request.max_tokens),
        ("stopSequences", request.stop),
        ("seed", request.seed),
    ):
        if value is not None:
            config[name] = value
    fmt = request.response_format or {}
    if fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema is not None:
            config["responseJsonSchema"] = schema
    if request.reasoning_effort:
        config["thinkingConfig"] = thinking_config(request.model, request.reasoning_effort)
    return {**config, **(request.extra.get("generationConfig") or {})}


def encode_request(request: ChatRequest) -> dict[str, Any]:
    """The ``generateContent`` body of ``request`` (the model and streaming are in the path)."""
    body: dict[str, Any] = {"contents": encode_contents(request.messages)}
    if system := request.system_text:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if request.tools:
        body["tools"] = _tools(request.tools)
    if (tool_config := _tool_config(request.tool_choice)) is not None:
        body["toolConfig"] = tool_config
    if config := _generation_config(request):
        body["generationConfig"] = config
    body.update({k: v for k, v in request.extra.items() if k != "generationConfig"})
    return body


def new_response_id() -> str:
    return os.urandom(12).hex()
