"""OpenAI Responses API answers, both directions, with no I/O.

An answer is a ``response`` object whose ``output`` holds a ``reasoning`` item (when the model
thought), a ``message`` item with ``output_text`` (or a ``refusal`` part) and one
``function_call`` item per tool call; usage counts cached input and reasoning tokens. What the
caller sent is echoed back (:class:`Echo`), as the API does. A stored call (:func:`record_of`)
keeps the conversation it answered, so ``previous_response_id`` can continue it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from inferopt.types import ChatResponse, FinishReason, ThinkingPart, Usage
from inferopt.wire.openai_responses import input_items, new_id, tool_call


def encode_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def decode_usage(data: dict[str, Any] | None) -> Usage:
    if not data:
        return Usage()
    details = data.get("input_tokens_details") or {}
    return Usage(
        input_tokens=int(data.get("input_tokens") or 0),
        output_tokens=int(data.get("output_tokens") or 0),
        cache_read_tokens=int(details.get("cached_tokens") or 0),
        cache_write_tokens=int(details.get("cache_write_tokens") or 0),
        reasoning_tokens=int((data.get("output_tokens_details") or {}).get("reasoning_tokens") or 0),
    )


@dataclass(slots=True)
class Echo:
    """What a response object repeats of its request, and its identity (``id``, ``created_at``)."""

    fields: dict[str, Any]
    id: str = field(default_factory=lambda: new_id("resp"))
    created_at: int = field(default_factory=lambda: int(time.time()))

    @classmethod
    def of(cls, data: dict[str, Any]) -> Echo:
        reasoning = data.get("reasoning")
        text: dict[str, Any] = data["text"] if isinstance(data.get("text"), dict) else {}
        return cls(
            {
                "instructions": data.get("instructions"),
                "max_output_tokens": data.get("max_output_tokens"),
                "metadata": data.get("metadata") or {},
                "parallel_tool_calls": data.get("parallel_tool_calls", True),
                "previous_response_id": data.get("previous_response_id"),
                "reasoning": {"effort": None, "summary": None, **reasoning} if isinstance(reasoning, dict) else None,
                "store": data.get("store", True),
                "temperature": data.get("temperature", 1.0),
                "text": {"format": {"type": "text"}, **text},
                "tool_choice": data.get("tool_choice", "auto"),
                "tools": list(data.get("tools") or ()),
                "top_p": data.get("top_p", 1.0),
                "truncation": data.get("truncation", "disabled"),
            }
            | ({"user": data["user"]} if isinstance(data.get("user"), str) else {})
        )

    def shell(self, model: str, status: str) -> dict[str, Any]:
        """The response object before any output: what ``response.created`` carries."""
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "completed_at": None,
            "error": None,
            "incomplete_details": None,
            "model": model,
            "output": [],
            **self.fields,
        }


def message_item(text: str, refusal: str | None, item_id: str, status: str = "completed") -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if text or not refusal:
        content.append({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
    if refusal:
        content.append({"type": "refusal", "refusal": refusal})
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}


def function_call_item(call: dict[str, Any], item_id: str, status: str = "completed") -> dict[str, Any]:
    fn = call.get("function") or {}
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call.get("id") or item_id,
        "name": fn.get("name", ""),
        "arguments": fn.get("arguments") or "",
        "status": status,
    }


def reasoning_item(thinking: list[ThinkingPart], item_id: str) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": t.text} for t in thinking if t.text]
    return {"id": item_id, "type": "reasoning", "summary": summary, "status": "completed"}


def output_items(response: ChatResponse) -> list[dict[str, Any]]:
    """The ``output`` of a response object for a neutral answer."""
    items: list[dict[str, Any]] = []
    if response.thinking:
        items.append(reasoning_item(response.thinking, new_id("rs")))
    if response.content or response.refusal or not response.tool_calls:
        items.append(message_item(response.content, response.refusal, new_id("msg")))
    items += [function_call_item(c, new_id("fc")) for c in response.tool_calls or ()]
    return items


def status_of(response: ChatResponse) -> tuple[str, dict[str, Any] | None]:
    if response.finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if response.finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def encode_response(response: ChatResponse, echo: Echo, output: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A neutral answer as a ``response`` object (``output``: items already built, e.g. streamed)."""
    status, incomplete = status_of(response)
    body = echo.shell(response.model, status)
    body.update(
        completed_at=int(time.time()) if status == "completed" else None,
        incomplete_details=incomplete,
        output=output_items(response) if output is None else output,
        usage=encode_usage(response.usage),
    )
    return body


def decode_response(data: dict[str, Any], model: str) -> ChatResponse:
    """A ``response`` object as a neutral answer."""
    text: list[str] = []
    refusal: list[str] = []
    calls: list[dict[str, Any]] = []
    thinking: list[ThinkingPart] = []
    for item in data.get("output") or ():
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    text.append(part.get("text", ""))
                elif part.get("type") == "refusal":
                    refusal.append(part.get("refusal", ""))
        elif kind == "function_call":
            calls.append(tool_call(item))
        elif kind == "reasoning":
            thinking += [ThinkingPart(s.get("text", "")) for s in item.get("summary") or ()]
    reason = (data.get("incomplete_details") or {}).get("reason")
    finish: FinishReason | None = "length" if reason == "max_output_tokens" else "content_filter" if reason else None
    return ChatResponse(
        id=str(data.get("id", "")),
        model=str(data.get("model") or model),
        content="".join(text),
        usage=decode_usage(data.get("usage")),
        finish_reason=finish or ("tool_calls" if calls else "stop"),
        provider_stop_reason=reason or data.get("status"),
        tool_calls=calls or None,
        thinking=thinking or None,
        refusal="".join(refusal) or None,
    )


def next_turn_items(stored: dict[str, Any]) -> list[dict[str, Any]]:
    """The items a follow-up call (``previous_response_id``) continues from: the stored call's
    conversation followed by its output (instructions are not carried over, as the API says)."""
    return [*stored.get("conversation", ()), *stored["response"].get("output", ())]


@dataclass(slots=True)
class ResponsesCall:
    """One Responses call: the body as sent, what its answer echoes, the stored conversation it
    continues (``history``) and the response object as sent (``final``)."""

    data: dict[str, Any]
    echo: Echo
    history: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> ResponsesCall:
        return cls(data, Echo.of(data))

    @property
    def store(self) -> bool:
        return self.data.get("store", True) is not False


def record_of(call: ResponsesCall) -> dict[str, Any] | None:
    """What to store for an answered call (None when it asked not to be stored)."""
    if not call.store or call.final is None:
        return None
    return {"response": call.final, "conversation": [*call.history, *input_items(call.data.get("input"))]}


def input_items_list(record: dict[str, Any]) -> dict[str, Any]:
    """``GET /responses/{id}/input_items``: the items a stored call answered, as a list object."""
    data = [{"id": item.get("id") or new_id("msg"), **item} for item in record.get("conversation", ())]
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    return {"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": False}
