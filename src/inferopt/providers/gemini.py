"""The Gemini API over HTTP: auth, paths and the I/O driver; the wire is :mod:`inferopt.wire.gemini`.

``POST {base_url}/v1beta/models/{model}:generateContent`` (``:streamGenerateContent?alt=sse`` when
streamed) with the key in ``x-goog-api-key``. A prompt the safety filters block is a 400
``ProviderHTTPError`` (``error_type: content_filter``) naming the reason, never an empty answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from inferopt.providers.base import HTTPChatModel
from inferopt.types import ChatRequest, ChatResponse, StreamEvent
from inferopt.wire import gemini as wire
from inferopt.wire.common import ErrorDetail
from inferopt.wire.gemini_response import decode_response
from inferopt.wire.gemini_stream import GeminiStreamDecoder
from inferopt.wire.sse import ServerSentEvent

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"


class GeminiModel(HTTPChatModel):
    """The Gemini ``generateContent`` wire format as a Model."""

    path = "/v1beta/models"  # the model and the method follow (see _path)
    accepts_prefill = False  # a final model turn is context: a rescue asks to continue
    request_id_header = "x-goog-request-id"

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.provider.api_key} if self.provider.api_key else {}

    def _path(self, request: ChatRequest, stream: bool) -> str:
        if stream:
            return wire.model_path(request.model, "streamGenerateContent") + "?alt=sse"
        return wire.model_path(request.model, "generateContent")

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        return wire.encode_request(request)

    def _error_detail(self, body: bytes) -> ErrorDetail:
        return wire.decode_error(body)

    def _raise_for(self, request: ChatRequest, status: int, headers: Mapping[str, str], body: bytes) -> NoReturn:
        """Gemini's 429s say when to come back in a ``RetryInfo`` detail, not a header: honour it."""
        delay = wire.retry_delay_s(body) if status == 429 and "retry-after" not in headers else None
        if delay is not None:
            headers = {**headers, "retry-after": str(delay)}
        super()._raise_for(request, status, headers, body)

    def _decode(self, data: dict[str, Any], model: str) -> ChatResponse:
        return decode_response(data, model)

    def _decoder(self, model: str) -> GeminiStreamDecoder:
        return GeminiStreamDecoder(model)

    def _feed(self, decoder: GeminiStreamDecoder, event: ServerSentEvent) -> Iterable[StreamEvent]:
        return decoder.feed(event.data)
