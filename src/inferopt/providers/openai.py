"""OpenAI chat completions over HTTP (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp or any base_url):
auth, path and the I/O driver; the wire is :mod:`inferopt.wire.openai_chat`.

``POST {base_url}/chat/completions`` with ``Authorization: Bearer``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from inferopt.providers.base import HTTPChatModel
from inferopt.types import ChatRequest, ChatResponse, StreamEvent
from inferopt.wire import openai_chat as wire
from inferopt.wire.common import ErrorDetail
from inferopt.wire.openai_chat_stream import ChatStreamDecoder
from inferopt.wire.sse import ServerSentEvent


class OpenAIChatModel(HTTPChatModel):
    """The OpenAI chat-completions wire format as a Model."""

    path = "/chat/completions"
    accepts_prefill = False  # a final assistant message is context, not a start: a rescue asks to continue
    request_id_header = "x-request-id"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.provider.api_key}"} if self.provider.api_key else {}

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        return wire.encode_request(request, stream=stream)

    def _error_detail(self, body: bytes) -> ErrorDetail:
        return wire.decode_error(body)

    def _decode(self, data: dict[str, Any], model: str) -> ChatResponse:
        response = wire.decode_response(data, model)
        tier = data.get("service_tier")
        if tier in ("flex", "priority"):  # flex at batch rates, priority at a premium (pricing.cost, "Service tiers")
            response.annotations["service_tier"] = tier
        return response

    def _decoder(self, model: str) -> ChatStreamDecoder:
        return ChatStreamDecoder(model)

    def _feed(self, decoder: ChatStreamDecoder, event: ServerSentEvent) -> Iterable[StreamEvent]:
        return decoder.feed(event.data)
