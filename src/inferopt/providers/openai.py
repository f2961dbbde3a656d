"""OpenAI chat completions over HTTP: OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp or any base_url.

Wire format: ``POST {base_url}/chat/completions``; streaming is server-sent events of
``chat.completion.chunk`` objects ending with ``data: [DONE]``, and with
``stream_options.include_usage`` a last chunk carries ``usage`` and empty ``choices``.
Cached prompt tokens arrive as ``usage.prompt_tokens_details.cached_tokens`` (already inside
``prompt_tokens``, which matches our ``Usage`` convention).
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
    iter_sse,
    parse_json,
    transport_error,
)
from inferopt.providers.http import TransportFailure
from inferopt.types import ChatRequest, ChatResponse, FinishReason, StreamDone, StreamEvent, TextDelta, Usage

# The provider's finish reasons in our vocabulary (also read by the Batch API results).
FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
# Reasoning models reject the legacy ``max_tokens`` field; everything else (and most
# OpenAI-compatible servers) accepts it.
_MAX_COMPLETION_PREFIXES = ("o1", "o3", "o4", "gpt-5", "gpt-6")


def _max_tokens_field(model: str) -> str:
    name = model.rsplit("/", 1)[-1]
    return "max_completion_tokens" if name.startswith(_MAX_COMPLETION_PREFIXES) else "max_tokens"


def build_body(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The JSON body of a chat-completions call for ``request``."""
    body: dict[str, Any] = {"model": request.model, "messages": [m.to_openai() for m in request.messages]}
    if request.max_tokens is not None:
        body[_max_tokens_field(request.model)] = request.max_tokens
    optional = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop,
        "seed": request.seed,
        "tools": request.tools,
        "tool_choice": request.tool_choice,
        "response_format": request.response_format,
        "reasoning_effort": request.reasoning_effort,
        "user": request.user,
        "metadata": request.metadata,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if request.options.get("logprobs") and "logprobs" not in request.extra:
        body["logprobs"] = True  # a confidence check asked for them (providers without them ignore it)
    body.update(request.extra)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def parse_usage(data: dict[str, Any] | None) -> Usage:
    if not data:
        return Usage()
    prompt_details = data.get("prompt_tokens_details") or {}
    completion_details = data.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=int(data.get("prompt_tokens") or 0),
        output_tokens=int(data.get("completion_tokens") or 0),
        cache_read_tokens=int(prompt_details.get("cached_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
    )


def error_detail(body: bytes) -> ErrorDetail:
    """The message and type of an OpenAI error body (its ``{"error": {...}}`` envelope; else the body, cut)."""
    try:
        err = json.loads(body).get("error")
    except (ValueError, AttributeError):
        err = None
    if isinstance(err, dict):
        return ErrorDetail(str(err.get("message") or ""), err.get("type"), err.get("code"))
    if isinstance(err, str):
        return ErrorDetail(err, None, None)
    return ErrorDetail(body[:500].decode("utf-8", "replace") or "(empty body)", None, None)


class OpenAIChatModel(HTTPChatModel):
    """The OpenAI chat-completions wire format as a Model."""

    path = "/chat/completions"
    request_id_header = "x-request-id"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.provider.api_key}"} if self.provider.api_key else {}

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        return build_body(request, stream=stream)

    def _error_detail(self, body: bytes) -> ErrorDetail:
        return error_detail(body)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        started = time.perf_counter()
        headers, data = await self._post(request)
        try:
            choice = data["choices"][0]
            message = choice.get("message") or {}
        except (KeyError, IndexError, TypeError) as exc:
            raise ProviderProtocolError(
                f"{self.provider.name}: chat completion without choices", provider=self.provider.name
            ) from exc
        latency = time.perf_counter() - started
        reason = choice.get("finish_reason")
        logprobs = _logprob_entries(choice)
        return ChatResponse(
            id=str(data.get("id", "")),
            model=str(data.get("model") or request.model),
            content=message.get("content") or "",
            usage=parse_usage(data.get("usage")),
            finish_reason=FINISH_REASONS.get(reason or "stop", "stop"),
            provider=self.provider.name,
            provider_stop_reason=reason,
            tool_calls=message.get("tool_calls"),
            request_id=headers.get(self.request_id_header),
            emulated=self._is_emulated(headers),
            latency_s=latency,
            ttft_s=latency,
            annotations=logprob_annotations(logprobs) if logprobs is not None else {},
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        started = time.perf_counter()
        ttft: float | None = None
        parts: list[str] = []
        usage = Usage()
        meta: dict[str, Any] = {}
        reason: str | None = None
        tool_calls: dict[int, dict[str, Any]] = {}
        logprobs: list[dict[str, Any]] | None = None
        try:
            async with self._open_stream(request) as response:
                finished = False
                async for _event, data in iter_sse(response):
                    if data == "[DONE]":
                        finished = True
                        break
                    chunk = parse_json(self.provider, request.model, data.encode())
                    if "error" in chunk:
                        detail = error_detail(data.encode())
                        raise ProviderError(
                            f"{self.provider.name} stream error: {self.provider.redact(detail.message)}",
                            provider=self.provider.name,
                            model=request.model,
                        )
                    meta.setdefault("id", chunk.get("id"))
                    meta.setdefault("model", chunk.get("model"))
                    if chunk.get("usage"):
                        usage = parse_usage(chunk["usage"])
                    for choice in chunk.get("choices") or ():
                        delta = choice.get("delta") or {}
                        text = delta.get("content")
                        if text:
                            if ttft is None:
                                ttft = time.perf_counter() - started
                            parts.append(text)
                            yield TextDelta(text)
                        for call in delta.get("tool_calls") or ():
                            _merge_tool_call(tool_calls, call)
                        if (entries := _logprob_entries(choice)) is not None:
                            logprobs = (logprobs or []) + entries
                        reason = choice.get("finish_reason") or reason
                if not finished:
                    raise ProviderProtocolError(
                        f"{self.provider.name}: stream ended before [DONE] (connection dropped mid-answer)",
                        provider=self.provider.name,
                        model=request.model,
                    )

        except TransportFailure as exc:
            raise transport_error(self.provider, request.model, exc) from exc
        yield StreamDone(
            ChatResponse(
                id=str(meta.get("id") or ""),
                model=str(meta.get("model") or request.model),
                content="".join(parts),
                usage=usage,
                finish_reason=FINISH_REASONS.get(reason or "stop", "stop"),
                provider=self.provider.name,
                provider_stop_reason=reason,
                tool_calls=[tool_calls[i] for i in sorted(tool_calls)] or None,
                request_id=response.headers.get(self.request_id_header),
                emulated=self._is_emulated(response.headers),
                latency_s=time.perf_counter() - started,
                ttft_s=ttft,
                annotations=logprob_annotations(logprobs) if logprobs is not None else {},
            )
        )


def _logprob_entries(choice: dict[str, Any]) -> list[dict[str, Any]] | None:
    """``choice.logprobs.content`` (one entry per token) when the call asked for log-probabilities."""
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    return [e for e in content if isinstance(e, dict)] if isinstance(content, list) else None


def logprob_annotations(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """``logprobs``: the tokens' log-probabilities (what a cascade's confidence check reads);
    ``logprobs_content``: the provider's entries as sent (tokens, bytes, top alternatives)."""
    return {"logprobs": [float(e.get("logprob", 0.0)) for e in entries], "logprobs_content": entries}


def _merge_tool_call(calls: dict[int, dict[str, Any]], delta: dict[str, Any]) -> None:
    """Tool calls stream as fragments keyed by index; arguments arrive as string pieces."""
    index = int(delta.get("index", 0))
    call = calls.setdefault(index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
    if delta.get("id"):
        call["id"] = delta["id"]
    fn = delta.get("function") or {}
    if fn.get("name"):
        call["function"]["name"] += fn["name"]
    if fn.get("arguments"):
        call["function"]["arguments"] += fn["arguments"]
