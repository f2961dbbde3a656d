"""Gemini ``GenerateContentResponse`` bodies, both directions, with no I/O.

A response's first candidate is the answer: its text parts (``thought`` ones are the thinking),
its ``functionCall`` parts (the tool calls, ids made up when Gemini sent none) and its
``finishReason``; ``usageMetadata`` is the usage (see :mod:`.gemini`). Stream chunks have the same
shape, so the stream codec uses :func:`parts_of` and :func:`encode_chunk` too.
"""

from __future__ import annotations

import json
from typing import Any

from inferopt.types import ChatResponse, ThinkingPart
from inferopt.wire import gemini
from inferopt.wire.common import MalformedPayload


def tool_call(part: dict[str, Any], ordinal: int) -> dict[str, Any]:
    """An OpenAI-shaped tool call from a ``functionCall`` part (its thought signature kept)."""
    call = part["functionCall"]
    out: dict[str, Any] = {
        "id": str(call.get("id") or f"call_gemini_{ordinal}"),
        "type": "function",
        "function": {"name": str(call.get("name", "")), "arguments": json.dumps(call.get("args") or {})},
    }
    if part.get("thoughtSignature"):
        out["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return out


def parts_of(data: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """The first candidate's parts and finish reason; a blocked prompt raises ``PromptBlocked``."""
    candidates = data.get("candidates")
    if not candidates:
        feedback = data.get("promptFeedback") or {}
        if feedback.get("blockReason"):
            raise gemini.PromptBlocked(str(feedback["blockReason"]), str(feedback.get("blockReasonMessage") or ""))
        return [], None
    candidate = candidates[0]
    if not isinstance(candidate, dict):
        raise MalformedPayload(f"a Gemini candidate is not an object: {candidate!r:.200}")
    parts = (candidate.get("content") or {}).get("parts") or []
    return [p for p in parts if isinstance(p, dict)], candidate.get("finishReason")


def decode_response(data: dict[str, Any], model: str) -> ChatResponse:
    parts, reason = parts_of(data)
    text = "".join(str(p.get("text", "")) for p in parts if "text" in p and not p.get("thought"))
    thoughts = [
        ThinkingPart(str(p.get("text", "")), signature=p.get("thoughtSignature")) for p in parts if p.get("thought")
    ]
    calls = [tool_call(p, i) for i, p in enumerate(q for q in parts if "functionCall" in q)]
    if reason in gemini.FINISH_REASONS and gemini.FINISH_REASONS[reason] == "content_filter" and not text:
        refusal: str | None = f"The answer was blocked by the provider's safety filters ({reason})."
    else:
        refusal = None
    return ChatResponse(
        id=str(data.get("responseId") or ""),
        model=str(data.get("modelVersion") or model),
        content=text,
        usage=gemini.decode_usage(data.get("usageMetadata")),
        finish_reason=gemini.finish_reason(reason, bool(calls)),
        provider_stop_reason=reason,
        tool_calls=calls or None,
        thinking=thoughts or None,
        refusal=refusal,
    )


def answer_parts(response: ChatResponse) -> list[dict[str, Any]]:
    """The parts of ``response`` as Gemini sends them: thoughts, text, function calls."""
    parts: list[dict[str, Any]] = []
    for thought in response.thinking or ():
        part: dict[str, Any] = {"text": thought.text, "thought": True}
        if thought.signature:
            part["thoughtSignature"] = thought.signature
        parts.append(part)
    if response.content or not response.tool_calls:
        parts.append({"text": response.content})
    for call in response.tool_calls or ():
        function = call.get("function") or {}
        try:
            args = json.loads(function.get("arguments") or "{}")
        except ValueError:
            args = {}
        piece: dict[str, Any] = {"functionCall": {"name": function.get("name", ""), "args": args}}
        signature = ((call.get("extra_content") or {}).get("google") or {}).get("thought_signature")
        if signature:
            piece["thoughtSignature"] = signature
        parts.append(piece)
    return parts


def stop_name(response: ChatResponse) -> str:
    native = response.provider_stop_reason
    if native in gemini.FINISH_REASONS or native in ("OTHER", "MALFORMED_FUNCTION_CALL"):
        return str(native)
    return gemini.NEUTRAL_FINISH_REASONS.get(response.finish_reason, "STOP")


def encode_chunk(
    parts: list[dict[str, Any]],
    model: str,
    response_id: str,
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``GenerateContentResponse`` (a whole answer, or a stream's chunk)."""
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": response_id}
    if usage is not None:
        body["usageMetadata"] = usage
    return body


def encode_response(response: ChatResponse) -> dict[str, Any]:
    return encode_chunk(
        answer_parts(response),
        response.model,
        response.id or gemini.new_response_id(),
        stop_name(response),
        gemini.encode_usage(response.usage),
    )
