"""Anthropic Messages over HTTP.

Wire format: ``POST {base_url}/v1/messages`` with ``x-api-key`` and ``anthropic-version``.
System messages become the top-level ``system`` (a string, or text blocks when any part carries
``cache_control``); OpenAI-style tool definitions, tool calls and tool results are mapped to
``tools`` / ``tool_use`` / ``tool_result`` blocks. Streaming events: ``message_start``,
``content_block_start``, ``content_block_delta`` (``text_delta``), ``content_block_stop``,
``message_delta`` (stop reason and output usage), ``message_stop``, ``ping``, ``error``.

Usage: Anthropic's ``input_tokens`` excludes cache reads and writes; we add
``cache_read_input_tokens`` and ``cache_creation_input_tokens`` back so ``Usage.input_tokens``
is every prompt token (see ``inferopt.types``).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from inferopt.errors import ProviderError, ProviderProtocolError
from inferopt.providers.base import (
    ErrorDetail,
    HTTPChatModel,
    Provider,
    iter_sse,
    parse_json,
    transport_error,
)
from inferopt.providers.http import TransportFailure
from inferopt.types import (
    ChatRequest,
    ChatResponse,
    ContentPart,
    FinishReason,
    Message,
    StreamDone,
    StreamEvent,
    TextDelta,
    Usage,
)

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
# The provider's stop reasons in our vocabulary (also read by the Batch API results and the gateway).
FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _blocks(content: str | list[ContentPart]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    out: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind == "image_url":
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
        else:  # text, and Anthropic-native blocks, pass through as they are
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


def _message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        return {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": m.tool_call_id, "content": _blocks(m.content)}],
        }
    if m.role == "assistant" and m.tool_calls:
        converted = _blocks(m.content)
        blocks: list[dict[str, Any]] = (
            [{"type": "text", "text": converted}] if isinstance(converted, str) and converted else []
        )
        if isinstance(converted, list):
            blocks = converted
        for call in m.tool_calls:
            fn = call.get("function") or {}
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.get("id"),
                    "name": fn.get("name"),
                    "input": json.loads(fn.get("arguments") or "{}"),
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
        else:  # already Anthropic-shaped
            out.append(tool)
    return out


def _tool_choice(choice: Any) -> Any:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "tool", "name": choice["function"]["name"]}
    return choice


def build_body(request: ChatRequest, *, stream: bool, default_max_tokens: int = DEFAULT_MAX_TOKENS) -> dict[str, Any]:
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


def parse_usage(data: dict[str, Any] | None) -> Usage:
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


def error_detail(body: bytes) -> ErrorDetail:
    """The message and type of an Anthropic error body (its ``{"error": {...}}`` envelope; else the body, cut)."""
    try:
        err = json.loads(body).get("error")
    except (ValueError, AttributeError):
        err = None
    if isinstance(err, dict):
        return ErrorDetail(str(err.get("message") or ""), err.get("type"), None)
    return ErrorDetail(body[:500].decode("utf-8", "replace") or "(empty body)", None, None)


def tool_calls(blocks: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Anthropic ``tool_use`` blocks as OpenAI-style tool calls (``None`` when there are none)."""
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


class AnthropicModel(HTTPChatModel):
    """The Anthropic Messages wire format as a Model."""

    path = "/v1/messages"
    request_id_header = "request-id"

    def __init__(self, provider: Provider, *, default_max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        super().__init__(provider)
        self.default_max_tokens = default_max_tokens

    def _headers(self) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if self.provider.api_key:
            headers["x-api-key"] = self.provider.api_key
        return headers

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        return build_body(request, stream=stream, default_max_tokens=self.default_max_tokens)

    def _error_detail(self, body: bytes) -> ErrorDetail:
        return error_detail(body)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        started = time.perf_counter()
        headers, data = await self._post(request)
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise ProviderProtocolError(
                f"{self.provider.name}: message without content",
                provider=self.provider.name,
                model=request.model,
            )
        latency = time.perf_counter() - started
        reason = data.get("stop_reason")
        return ChatResponse(
            id=str(data.get("id", "")),
            model=str(data.get("model") or request.model),
            content="".join(b.get("text", "") for b in blocks if b.get("type") == "text"),
            usage=parse_usage(data.get("usage")),
            finish_reason=FINISH_REASONS.get(reason or "end_turn", "stop"),
            provider=self.provider.name,
            provider_stop_reason=reason,
            tool_calls=tool_calls(blocks),
            request_id=headers.get(self.request_id_header),
            emulated=self._is_emulated(headers),
            latency_s=latency,
            ttft_s=latency,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        started = time.perf_counter()
        ttft: float | None = None
        parts: list[str] = []
        message: dict[str, Any] = {}
        usage_data: dict[str, Any] = {}
        reason: str | None = None
        blocks: dict[int, dict[str, Any]] = {}
        try:
            async with self._open_stream(request) as response:
                stopped = False
                async for event, data in iter_sse(response):
                    payload = parse_json(self.provider, request.model, data.encode())
                    kind = event or payload.get("type")
                    if kind == "content_block_delta":
                        delta = payload.get("delta") or {}
                        if delta.get("type") == "text_delta" and delta.get("text"):
                            if ttft is None:
                                ttft = time.perf_counter() - started
                            parts.append(delta["text"])
                            yield TextDelta(delta["text"])
                        elif delta.get("type") == "input_json_delta":
                            blocks[payload.get("index", 0)]["_json"] += delta.get("partial_json", "")
                    elif kind == "content_block_start":
                        block = dict(payload.get("content_block") or {})
                        if block.get("type") == "tool_use":
                            block["_json"] = ""
                            blocks[payload.get("index", 0)] = block
                    elif kind == "message_start":
                        message = payload.get("message") or {}
                        usage_data.update(message.get("usage") or {})
                    elif kind == "message_delta":
                        reason = (payload.get("delta") or {}).get("stop_reason") or reason
                        usage_data.update({k: v for k, v in (payload.get("usage") or {}).items() if v is not None})
                    elif kind == "message_stop":
                        stopped = True
                        break
                    elif kind == "error":
                        detail = error_detail(data.encode())
                        raise ProviderError(
                            f"{self.provider.name} stream error ({detail.type}): "
                            f"{self.provider.redact(detail.message)}",
                            provider=self.provider.name,
                            model=request.model,
                        )
                if not stopped:
                    raise ProviderProtocolError(
                        f"{self.provider.name}: stream ended before message_stop (connection dropped mid-answer)",
                        provider=self.provider.name,
                        model=request.model,
                    )

        except TransportFailure as exc:
            raise transport_error(self.provider, request.model, exc) from exc
        for block in blocks.values():
            block["input"] = json.loads(block.pop("_json") or "{}")
        yield StreamDone(
            ChatResponse(
                id=str(message.get("id", "")),
                model=str(message.get("model") or request.model),
                content="".join(parts),
                usage=parse_usage(usage_data),
                finish_reason=FINISH_REASONS.get(reason or "end_turn", "stop"),
                provider=self.provider.name,
                provider_stop_reason=reason,
                tool_calls=tool_calls([blocks[i] for i in sorted(blocks)]),
                request_id=response.headers.get(self.request_id_header),
                emulated=self._is_emulated(response.headers),
                latency_s=time.perf_counter() - started,
                ttft_s=ttft,
            )
        )
