"""Anthropic Messages over HTTP: auth, path and the I/O driver; the wire is :mod:`inferopt.wire.anthropic_messages`.

``POST {base_url}/v1/messages`` with ``x-api-key`` and ``anthropic-version`` (and ``anthropic-beta`` when
``request.options["anthropic_beta"]`` names betas: the gateway passes its client's header through).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from inferopt.providers.base import HTTPChatModel, Provider
from inferopt.types import ChatRequest, ChatResponse, StreamEvent
from inferopt.wire import anthropic_messages as wire
from inferopt.wire.anthropic_stream import AnthropicStreamDecoder
from inferopt.wire.common import ErrorDetail
from inferopt.wire.sse import ServerSentEvent

API_VERSION = wire.API_VERSION
# request.options key: the ``anthropic-beta`` header value to send (the gateway passes its client's through).
ANTHROPIC_BETA_OPTION = "anthropic_beta"
DEFAULT_MAX_TOKENS = wire.DEFAULT_MAX_TOKENS


class AnthropicModel(HTTPChatModel):
    """The Anthropic Messages wire format as a Model."""

    path = "/v1/messages"
    accepts_prefill = True  # a final assistant message is continued (what a stream rescue sends)
    request_id_header = "request-id"

    def __init__(self, provider: Provider, *, default_max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        super().__init__(provider)
        self.default_max_tokens = default_max_tokens

    def _headers(self) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if self.provider.api_key:
            headers["x-api-key"] = self.provider.api_key
        return headers

    def _request_headers(self, request: ChatRequest) -> dict[str, str]:
        headers = self._headers()
        beta = request.options.get(ANTHROPIC_BETA_OPTION)
        if isinstance(beta, str) and beta:
            headers["anthropic-beta"] = beta  # e.g. context-1m-2025-08-07, interleaved-thinking-2025-05-14
        return headers

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        return wire.encode_request(request, stream=stream, default_max_tokens=self.default_max_tokens)

    def _error_detail(self, body: bytes) -> ErrorDetail:
        return wire.decode_error(body)

    def _decode(self, data: dict[str, Any], model: str) -> ChatResponse:
        return wire.decode_response(data, model)

    def _decoder(self, model: str) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder(model)

    def _feed(self, decoder: AnthropicStreamDecoder, event: ServerSentEvent) -> Iterable[StreamEvent]:
        return decoder.feed(event.event, event.data)
