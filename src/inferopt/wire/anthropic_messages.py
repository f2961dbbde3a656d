"""Anthropic Messages, both directions, with no I/O: requests, answers, usage, stop reasons, errors.

The neutral types are OpenAI-shaped (see :mod:`inferopt.types`); this module is the one place that
maps them to and from ``POST /v1/messages``. System messages become the top-level ``system`` (a
string, or text blocks when any part carries ``cache_control``); OpenAI-style tool definitions,
tool calls and tool results become ``tools`` / ``tool_use`` / ``tool_result`` blocks and back;
``thinking`` and ``redacted_thinking`` blocks (with their signatures) pass byte-exact.

Usage: Anthropic's ``input_tokens`` excludes cache reads and writes; decoding adds
``cache_read_input_tokens`` and ``cache_creation_input_tokens`` back (``Usage.input_tokens`` is
every prompt token), encoding takes them out again. Streams live in :mod:`.anthropic_stream`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from inferopt.types import ChatRequest, ChatResponse, ContentPart, FinishReason, Message, ThinkingPart, Usage
from inferopt.wire.common import ErrorDetail, MalformedPayload
from inferopt.wire.common import error_detail as _error_detail

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
# The provider's stop reasons in our vocabulary.
STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# Ours in the provider's, for answers that came from another wire.
NEUTRAL_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
# Body fields the request mapping understands; any other goes through verbatim (ChatRequest.extra).
MAPPED_FIELDS = frozenset(
    [
        "model",
        "messages",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "stop_sequences",
        "tools",
        "tool_choice",
        "metadata",
        "stream",
    ]
)


def finish_reason(native: str | None) -> FinishReason:
    return STOP_REASONS.get(native or "end_turn", "stop")


def stop_reason(response: ChatResponse) -> str:
    """The ``stop_reason`` to send for ``response``: the provider's own when it was Anthropic's."""
    native = response.provider_stop_reason
    if native in STOP_REASONS:
        return str(native)
    return NEUTRAL_STOP_REASONS.get(response.finish_reason, "end_turn")


# -- usage ---------------------------------------------------------------------------------------


def decode_usage(data: dict[str, Any] | None) -> Usage:
    if not data:
        return Usage()
    read = int(data.get("cache_read_input_tokens") or 0)
    write = int(data.get("cache_creation_input_tokens") or 0)
    split = data.get("cache_creation") or {}
    return Usage(
        input_tokens=int(data.get("input_tokens") or 0) + read + write,
        output_tokens=int(data.get("output_tokens") or 0),
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=int(split.get("ephemeral_1h_input_tokens") or 0),
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.uncached_input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_tokens - usage.cache_write_1h_tokens,
            "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
        },
        "output_tokens": usage.output_tokens,
    }


# -- errors --------------------------------------------------------------------------------------


def decode_error(body: bytes | str) -> ErrorDetail:
    """The message and type of an error body (``{"type": "error", "error": {...}}``)."""
    detail = _error_detail(body)
    return ErrorDetail(detail.message, detail.type, None)


def encode_error(error_type: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


# -- requests: neutral -> Anthropic ----------------------------------------------------------------


def _blocks(content: str | list[ContentPart]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    out: list[dict[str, Any]] = []
    for part in content:
        if part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if url.startswith("data:"):
                media, _, data = url[5:].partition(";base64,")
                block: dict[str, Any] = {
                    "type": "image",
                    "source": {"type": "base64", "media_type": media, "data": data},
                }
            else:
                block = {"type": "image", "source": {"type": "url", "url": url}}
            if "cache_control" in part:
                block["cache_control"] = part["cache_control"]
            out.append(block)
        else:  # text, and Anthropic-native blocks (thinking with its signature, ...), pass as they are
            out.append(part)
    return out


def _system(messages: list[Message]) -> str | list[dict[str, Any]] | None:
    system = [m for m in messages if m.role == "system"]
    if not system:
        return None
    if all(isinstance(m.content, str) for m in system):
        return "\n\n".join(m.text for m in system)
    blocks: list[dict[str, Any]] = []
    for m in system:
        converted = _blocks(m.content)
        blocks.extend([{"type": "text", "text": converted}] if isinstance(converted, str) else converted)
    return blocks


def _arguments(text: str | None) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError:
        raise MalformedPayload(f"tool call arguments are not JSON: {(text or '')[:200]!r}") from None


def _message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id, "content": _blocks(m.content)}
        if m.cache_control is not None:
            result["cache_control"] = m.cache_control
        return {"role": "user", "content": [result]}
    if m.role == "assistant" and m.tool_calls:
        converted = _blocks(m.content)
        blocks: list[dict[str, Any]] = (
            converted if isinstance(converted, list) else ([{"type": "text", "text": converted}] if converted else [])
        )
        for call in m.tool_calls:
            fn = call.get("function") or {}
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.get("id"),
                    "name": fn.get("name"),
                    "input": _arguments(fn.get("arguments")),
                }
            )
        return {"role": "assistant", "content": blocks}
    return {"role": m.role, "content": _blocks(m.content)}


def _tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        if tool.get("type") == "function":
            fn = tool["function"]
            converted: dict[str, Any] = {
                "name": fn["name"],
                "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
            }
            if fn.get("description"):
                converted["description"] = fn["description"]
            if "cache_control" in tool:
                converted["cache_control"] = tool["cache_control"]
            out.append(converted)
        else:  # already Anthropic-shaped (server tools, ...)
            out.append(tool)
    return out


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "tool", "name": choice["function"]["name"]}
    if isinstance(choice, str):
        return {"type": {"auto": "auto", "required": "any", "none": "none"}.get(choice, choice)}
    return choice


def encode_request(
    request: ChatRequest, *, stream: bool, default_max_tokens: int = DEFAULT_MAX_TOKENS
) -> dict[str, Any]:
    """The JSON body of a Messages call for ``request``."""
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens if request.max_tokens is not None else default_max_tokens,
        "messages": [_message(m) for m in request.messages if m.role != "system"],
    }
    system = _system(request.messages)
    if system is not None:
        body["system"] = system
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = request.stop
    if request.tools:
        body["tools"] = _tools(request.tools)
    if request.tool_choice is not None:
        body["tool_choice"] = _tool_choice(request.tool_choice)
    if request.user:
        body["metadata"] = {"user_id": request.user}
    body.update(request.extra)
    if stream:
        body["stream"] = True
    return body


# -- requests: Anthropic -> neutral (the body's shape was checked at the edge) ---------------------


def _part(block: dict[str, Any]) -> ContentPart:
    """A content block as a neutral (OpenAI-shaped) part; other blocks pass as they are."""
    if block.get("type") == "image":
        source = block.get("source") or {}
        url = (
            f"data:{source.get('media_type')};base64,{source.get('data')}"
            if source.get("type") == "base64"
            else source.get("url", "")
        )
        part: ContentPart = {"type": "image_url", "image_url": {"url": url}}
        if "cache_control" in block:
            part["cache_control"] = block["cache_control"]
        return part
    return block


def decode_messages(role: str, content: str | list[dict[str, Any]]) -> list[Message]:
    """One Anthropic message as neutral messages (a user turn's tool results become tool messages)."""
    if isinstance(content, str):
        return [Message(role, content)]  # type: ignore[arg-type]
    if role == "assistant":
        parts = [_part(b) for b in content if b["type"] != "tool_use"]
        return [Message("assistant", parts, tool_calls=tool_calls_of(content))]
    out: list[Message] = []
    parts = []
    for block in content:
        if block["type"] == "tool_result":
            inner = block.get("content", "")
            result: str | list[ContentPart] = inner if isinstance(inner, str) else [_part(b) for b in inner]
            cache_control = block.get("cache_control")
            out.append(Message("tool", result, tool_call_id=block.get("tool_use_id"), cache_control=cache_control))
        else:
            parts.append(_part(block))
    if parts:
        out.append(Message("user", parts))
    return out


def _neutral_tools(tools: list[Any]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        if isinstance(tool, dict) and "input_schema" in tool:
            fn: dict[str, Any] = {"name": tool.get("name"), "parameters": tool["input_schema"]}
            if tool.get("description"):
                fn["description"] = tool["description"]
            converted: dict[str, Any] = {"type": "function", "function": fn}
            if "cache_control" in tool:
                converted["cache_control"] = tool["cache_control"]
            out.append(converted)
        else:  # server tools (web search, ...) go upstream as they are
            out.append(tool)
    return out


def _neutral_tool_choice(choice: Any) -> Any:
    if not isinstance(choice, dict):
        return choice
    kind = choice.get("type")
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return {"auto": "auto", "any": "required", "none": "none"}.get(str(kind), choice)


def decode_request(data: dict[str, Any]) -> ChatRequest:
    """A ``/v1/messages`` body (already checked at the edge) as a neutral request."""
    messages: list[Message] = []
    system = data.get("system")
    if isinstance(system, str) and system:
        messages.append(Message("system", system))
    elif isinstance(system, list) and system:
        messages.append(Message("system", [_part(b) for b in system if isinstance(b, dict)]))
    for item in data["messages"]:
        messages.extend(decode_messages(item["role"], item.get("content")))
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else None
    tools = data.get("tools")
    stop = data.get("stop_sequences")
    return ChatRequest(
        model=data["model"],
        messages=messages,
        max_tokens=data.get("max_tokens"),
        temperature=data.get("temperature"),
        top_p=data.get("top_p"),
        stop=[stop] if isinstance(stop, str) else stop,
        tools=_neutral_tools(tools) if tools else None,
        tool_choice=_neutral_tool_choice(data.get("tool_choice")),
        user=metadata.get("user_id") if metadata else None,
        extra={k: v for k, v in data.items() if k not in MAPPED_FIELDS},
    )


# -- answers ---------------------------------------------------------------------------------------


def tool_calls_of(blocks: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """``tool_use`` blocks as OpenAI-style tool calls (``None`` when there are none)."""
    calls = [
        {
            "id": b.get("id"),
            "type": "function",
            "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input") or {})},
        }
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    return calls or None


def thinking_of(blocks: list[dict[str, Any]]) -> list[ThinkingPart] | None:
    parts = []
    for b in blocks:
        if b.get("type") == "thinking":
            parts.append(ThinkingPart(str(b.get("thinking", "")), b.get("signature")))
        elif b.get("type") == "redacted_thinking":
            parts.append(ThinkingPart(redacted_data=b.get("data")))
    return parts or None


def thinking_block(part: ThinkingPart) -> dict[str, Any]:
    if part.redacted_data is not None:
        return {"type": "redacted_thinking", "data": part.redacted_data}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}


def tool_use_blocks(response: ChatResponse) -> list[dict[str, Any]]:
    blocks = []
    for call in response.tool_calls or ():
        fn = call.get("function") or {}
        try:
            arguments = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            arguments = {"_raw": fn.get("arguments")}
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": arguments})
    return blocks


def decode_response(data: dict[str, Any], model: str) -> ChatResponse:
    """A ``message`` object as a neutral answer (the transport's fields are the caller's to fill)."""
    blocks = data.get("content")
    if not isinstance(blocks, list):
        raise MalformedPayload("message without content")
    reason = data.get("stop_reason")
    return ChatResponse(
        id=str(data.get("id", "")),
        model=str(data.get("model") or model),
        content="".join(b.get("text", "") for b in blocks if b.get("type") == "text"),
        usage=decode_usage(data.get("usage")),
        finish_reason=finish_reason(reason),
        provider_stop_reason=reason,
        tool_calls=tool_calls_of(blocks),
        thinking=thinking_of(blocks),
        stop_sequence=data.get("stop_sequence"),
    )


def message_id(response: ChatResponse | None = None) -> str:
    if response is not None and response.id.startswith("msg_"):
        return response.id
    return "msg_" + os.urandom(12).hex()


def encode_response(response: ChatResponse) -> dict[str, Any]:
    """A neutral answer as a ``message`` object (thinking first, then text, then tool calls)."""
    content = [thinking_block(p) for p in response.thinking or ()]
    content += [{"type": "text", "text": response.content}] if response.content else []
    content += tool_use_blocks(response)
    return {
        "id": message_id(response),
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": content,
        "stop_reason": stop_reason(response),
        "stop_sequence": response.stop_sequence,
        "usage": encode_usage(response.usage),
    }
