"""The Anthropic Messages dialect of the gateway: ``POST /v1/messages`` in and out.

Requests are mapped to the neutral :class:`~inferopt.types.ChatRequest` (the inverse of
:func:`inferopt.providers.anthropic.build_body`, whose block and tool helpers are reused so an
Anthropic upstream receives what the client sent: ``cache_control`` on system, message and tool
blocks survives the round trip). Answers are written as Anthropic ``message`` objects and event
streams, so the official ``anthropic`` SDK works unchanged against the gateway whatever provider
answers behind it. Usage follows Anthropic's convention on the way out: ``input_tokens``
excludes cache reads and writes.
"""

from __future__ import annotations

import json
import os
from typing import Any

from inferopt.gateway.problems import Problem, invalid
from inferopt.gateway.validation import (
    ParsedChat,
    RequestLimits,
    check_max_tokens,
    check_number,
    check_stop,
    parse_json_object,
)
from inferopt.providers.anthropic import FINISH_REASONS as ANTHROPIC_TO_NEUTRAL
from inferopt.providers.anthropic import tool_calls
from inferopt.types import ChatRequest, ChatResponse, ContentPart, Message, Usage

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_NEUTRAL_TO_ANTHROPIC = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
_MAPPED = frozenset(
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


def _part(block: dict[str, Any]) -> ContentPart:
    """An Anthropic content block as a neutral (OpenAI-shaped) part; unknown blocks pass as they are."""
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


def _messages(role: str, content: Any, where: str) -> list[Message] | Problem:
    if isinstance(content, str):
        return [Message(role, content)]  # type: ignore[arg-type]
    if not isinstance(content, list) or not all(isinstance(b, dict) and "type" in b for b in content):
        return invalid(f"{where}.content must be a string or a list of blocks with a 'type'", param=where)
    if role == "assistant":
        calls = tool_calls(content)
        parts = [_part(b) for b in content if b["type"] != "tool_use"]
        return [Message("assistant", parts, tool_calls=calls)]
    out: list[Message] = []
    parts = []
    for block in content:
        if block["type"] == "tool_result":
            inner = block.get("content", "")
            result: str | list[ContentPart] = inner if isinstance(inner, str) else [_part(b) for b in inner]
            out.append(Message("tool", result, tool_call_id=block.get("tool_use_id")))
        else:
            parts.append(_part(block))
    if parts:
        out.append(Message("user", parts))
    return out


def _tools(tools: list[Any]) -> list[dict[str, Any]]:
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


def _tool_choice(choice: Any) -> Any:
    if not isinstance(choice, dict):
        return choice
    kind = choice.get("type")
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return {"auto": "auto", "any": "required", "none": "none"}.get(str(kind), choice)


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
    messages: list[Message] = []
    system = data.get("system")
    if isinstance(system, str) and system:
        messages.append(Message("system", system))
    elif isinstance(system, list) and system:
        messages.append(Message("system", [_part(b) for b in system if isinstance(b, dict)]))
    for i, item in enumerate(raw):
        where = f"messages.{i}"
        if not isinstance(item, dict) or item.get("role") not in ("user", "assistant"):
            return invalid(f"{where}.role: Input should be 'user' or 'assistant'", param=where)
        converted = _messages(item["role"], item.get("content"), where)
        if isinstance(converted, Problem):
            return converted
        messages.extend(converted)
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
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    request = ChatRequest(
        model=model,
        messages=messages,
        max_tokens=max_tokens,  # type: ignore[arg-type]
        tools=_tools(tools) if tools else None,
        tool_choice=_tool_choice(data.get("tool_choice")),
        user=metadata.get("user_id") if metadata else None,
        extra={k: v for k, v in data.items() if k not in _MAPPED},
        **checks,
    )
    return ParsedChat(request, stream)


def parse(body: bytes, limits: RequestLimits) -> ParsedChat | Problem:
    data = parse_json_object(body)
    return data if isinstance(data, Problem) else parse_anthropic(data, limits)


def stop_reason(response: ChatResponse) -> str:
    native = response.provider_stop_reason
    if native in ANTHROPIC_TO_NEUTRAL:
        return str(native)
    return _NEUTRAL_TO_ANTHROPIC.get(response.finish_reason, "end_turn")


def usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.uncached_input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
    }


def _tool_use_blocks(response: ChatResponse) -> list[dict[str, Any]]:
    blocks = []
    for call in response.tool_calls or ():
        fn = call.get("function") or {}
        try:
            arguments = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            arguments = {"_raw": fn.get("arguments")}
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": arguments})
    return blocks


def message_id(response: ChatResponse | None = None) -> str:
    if response is not None and response.id.startswith("msg_"):
        return response.id
    return "msg_gw_" + os.urandom(12).hex()


def message_body(response: ChatResponse) -> bytes:
    content: list[dict[str, Any]] = [{"type": "text", "text": response.content}] if response.content else []
    content += _tool_use_blocks(response)
    return _dumps(
        {
            "id": message_id(response),
            "type": "message",
            "role": "assistant",
            "model": response.model,
            "content": content,
            "stop_reason": stop_reason(response),
            "stop_sequence": None,
            "usage": usage_json(response.usage),
        }
    ).encode()


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _dumps(payload).encode() + b"\n\n"


class EventWriter:
    """The SSE bytes of one streamed message: ``message_start`` ... ``message_stop``."""

    def __init__(self, model: str, include_usage: bool = True) -> None:
        self.id = message_id()
        self.model = model
        self._prefix = (
            b"event: content_block_delta\n"
            b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":'
        )
        self._suffix = b"}}\n\n"

    def start(self) -> bytes:
        # Usage is known only at the end; message_delta carries all of it (the SDK takes it from there).
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return (
            _event("message_start", {"type": "message_start", "message": message})
            + _event(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
            + _event("ping", {"type": "ping"})
        )

    def delta(self, text: str) -> bytes:
        return self._prefix + _dumps(text).encode() + self._suffix

    def done(self, response: ChatResponse) -> bytes:
        pieces = [_event("content_block_stop", {"type": "content_block_stop", "index": 0})]
        for index, block in enumerate(_tool_use_blocks(response), start=1):
            start = {**block, "input": {}}
            pieces += [
                _event("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}),
                _event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])},
                    },
                ),
                _event("content_block_stop", {"type": "content_block_stop", "index": index}),
            ]
        pieces.append(
            _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason(response), "stop_sequence": None},
                    "usage": usage_json(response.usage),
                },
            )
        )
        pieces.append(_event("message_stop", {"type": "message_stop"}))
        return b"".join(pieces)

    def error(self, problem: Problem) -> bytes:
        return _event("error", problem.anthropic_error())
