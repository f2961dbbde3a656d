"""OpenAI Responses API requests (``POST /v1/responses``), both directions, with no I/O.

A Responses call maps onto the neutral chat request: ``instructions`` is the system message,
``input`` (a string, or a list of items) the conversation: ``message`` items (``input_text``,
``output_text``, ``input_image``, ``input_file`` parts), ``function_call`` items (an assistant
turn's tool calls) and ``function_call_output`` items (tool results). Function tools are flat
(``{"type": "function", "name", "parameters"}``), ``text.format`` is the response format,
``reasoning.effort`` the reasoning effort, ``max_output_tokens`` the token limit. Reasoning items
sent back as input carry nothing the chat vocabulary can hold, so they are dropped.

Answers live in :mod:`.openai_responses_answer`, streams in :mod:`.openai_responses_stream`.
"""

from __future__ import annotations

import os
from typing import Any

from inferopt.types import ChatRequest, ContentPart, Message

# Body fields the request mapping understands; the others named here are the route's business.
# Anything else reaches the upstream verbatim (ChatRequest.extra), as in chat.
MAPPED_FIELDS = frozenset(
    [
        "model",
        "input",
        "instructions",
        "max_output_tokens",
        "temperature",
        "top_p",
        "tools",
        "tool_choice",
        "text",
        "reasoning",
        "user",
        "metadata",
        "stream",
        "stream_options",
        "store",
        "previous_response_id",
        "include",
        "truncation",
        "background",
        "parallel_tool_calls",
    ]
)
_PART_TEXT = ("input_text", "output_text", "text", "summary_text")


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(12).hex()}"


# -- request: items to messages ----------------------------------------------------------------------


def decode_part(part: dict[str, Any]) -> ContentPart:
    """A Responses content part in chat's shape (unknown kinds pass through as they came)."""
    kind = part.get("type")
    if kind in _PART_TEXT:
        return {"type": "text", "text": str(part.get("text", ""))}
    if kind == "input_image":
        url = part.get("image_url") or (f"file:{part['file_id']}" if part.get("file_id") else "")
        return {"type": "image_url", "image_url": {"url": url, "detail": part.get("detail") or "auto"}}
    if kind == "input_file":
        fields = ("file_id", "file_data", "filename")
        return {"type": "file", "file": {k: part[k] for k in fields if part.get(k) is not None}}
    return dict(part)


def _content(value: Any) -> str | list[ContentPart]:
    if isinstance(value, str):
        return value
    parts = [decode_part(p) for p in value or () if isinstance(p, dict)]
    if all(p.get("type") == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def tool_call(item: dict[str, Any]) -> dict[str, Any]:
    call_id = item.get("call_id") or item.get("id") or ""
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": item.get("name", ""), "arguments": item.get("arguments") or "{}"},
    }


def decode_items(items: list[dict[str, Any]]) -> list[Message]:
    """Input items as chat messages: a turn's function calls join its assistant message."""
    messages: list[Message] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role", "user")
            messages.append(Message("system" if role == "developer" else role, _content(item.get("content"))))
        elif kind == "function_call":
            last = messages[-1] if messages else None
            if last is None or last.role != "assistant":
                last = Message("assistant", "")
                messages.append(last)
            last.tool_calls = [*(last.tool_calls or []), tool_call(item)]
        elif kind == "function_call_output":
            output = item.get("output")
            content = output if isinstance(output, str) else _content(output)
            messages.append(Message("tool", content, tool_call_id=item.get("call_id")))
    return messages


def input_items(value: Any) -> list[dict[str, Any]]:
    """``input`` as a list of items (a string is one user message)."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return [dict(item) for item in value or ()]


def decode_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A flat Responses function tool in chat's nested shape."""
    function = {k: tool[k] for k in ("name", "description", "parameters", "strict") if tool.get(k) is not None}
    return {"type": "function", "function": function}


def encode_tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function") or {}
    return {
        "type": "function",
        "strict": function.get("strict"),
        "parameters": function.get("parameters"),
        **{k: function[k] for k in ("name", "description") if function.get(k) is not None},
    }


def decode_tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return choice


def encode_tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "name": (choice.get("function") or {}).get("name")}
    return "auto" if choice is None else choice


def decode_format(text: Any) -> dict[str, Any] | None:
    """``text.format`` as chat's ``response_format`` (None for plain text)."""
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    return {"type": fmt["type"]}


def encode_format(response_format: dict[str, Any] | None) -> dict[str, Any]:
    if not response_format:
        return {"format": {"type": "text"}}
    if response_format.get("type") == "json_schema":
        return {"format": {"type": "json_schema", **(response_format.get("json_schema") or {})}}
    return {"format": {"type": response_format.get("type", "text")}}


def decode_request(data: dict[str, Any], history: list[dict[str, Any]] | None = None) -> ChatRequest:
    """A ``/responses`` body (checked at the edge) as a neutral request; ``history``: the items of
    the conversation ``previous_response_id`` names, placed before this call's input."""
    messages = [Message("system", str(data["instructions"]))] if data.get("instructions") else []
    messages += decode_items([*(history or ()), *input_items(data.get("input"))])
    extra = {k: v for k, v in data.items() if k not in MAPPED_FIELDS}
    if data.get("parallel_tool_calls") is not None:
        extra["parallel_tool_calls"] = data["parallel_tool_calls"]
    reasoning: dict[str, Any] = data["reasoning"] if isinstance(data.get("reasoning"), dict) else {}
    user = data.get("user")
    return ChatRequest(
        model=data["model"],
        messages=messages,
        max_tokens=data.get("max_output_tokens"),
        temperature=data.get("temperature"),
        top_p=data.get("top_p"),
        tools=[decode_tool(t) for t in data["tools"]] if data.get("tools") else None,
        tool_choice=decode_tool_choice(data.get("tool_choice")),
        response_format=decode_format(data.get("text")),
        reasoning_effort=reasoning.get("effort"),
        user=user if isinstance(user, str) else None,
        metadata=data.get("metadata"),
        extra=extra,
    )


def encode_request(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The ``/responses`` body for a neutral request (system messages become ``instructions``)."""
    items: list[dict[str, Any]] = []
    for m in request.messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            items.append({"type": "function_call_output", "call_id": m.tool_call_id, "output": m.text})
            continue
        if m.content:
            kind = "output_text" if m.role == "assistant" else "input_text"
            items.append({"type": "message", "role": m.role, "content": [{"type": kind, "text": m.text}]})
        for call in m.tool_calls or ():
            fn = call.get("function") or {}
            items.append(
                {
                    "type": "function_call",
                    "call_id": call.get("id"),
                    "name": fn.get("name"),
                    "arguments": fn.get("arguments"),
                }
            )
    body: dict[str, Any] = {"model": request.model, "input": items, "store": False}
    optional = {
        "instructions": request.system_text or None,
        "max_output_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "tools": [encode_tool(t) for t in request.tools] if request.tools else None,
        "tool_choice": encode_tool_choice(request.tool_choice) if request.tool_choice is not None else None,
        "text": encode_format(request.response_format) if request.response_format else None,
        "reasoning": {"effort": request.reasoning_effort} if request.reasoning_effort else None,
        "user": request.user,
        "metadata": request.metadata,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    body.update(request.extra)
    if stream:
        body["stream"] = True
    return body
