"""Gemini embeddings over HTTP: auth, path and the I/O driver; the wire is :mod:`inferopt.wire.gemini_embeddings`.

``POST {base_url}/v1beta/models/{model}:batchEmbedContents`` with ``x-goog-api-key``. Gemini reports
no usage for embeddings, so the input tokens are counted here (:mod:`inferopt.tokens`: an estimate
for Gemini's tokenizer, as for its chat prompts).
"""

from __future__ import annotations

import json
import time

from inferopt.embeddings.types import EmbeddingRequest, EmbeddingResponse
from inferopt.providers.base import EMULATED_HEADER, Provider, http_error, parse_json, transport_error, wire_error
from inferopt.providers.http import TransportFailure
from inferopt.tokens import count_tokens
from inferopt.types import Usage
from inferopt.wire import gemini
from inferopt.wire import gemini_embeddings as wire
from inferopt.wire.common import WireError


class GeminiEmbedder:
    """The Gemini embeddings wire as an :class:`~inferopt.embeddings.EmbeddingModel`."""

    request_id_header = "x-goog-request-id"

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.provider.api_key} if self.provider.api_key else {}

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        started = time.perf_counter()
        try:
            body = json.dumps(wire.encode_batch_request(request)).encode()
        except WireError as exc:
            raise wire_error(self.provider, request.model, exc) from exc
        path = gemini.model_path(request.model, "batchEmbedContents")
        try:
            status, headers, content = await self.provider.http.post(path, body, self._headers())
        except TransportFailure as exc:
            raise transport_error(self.provider, request.model, exc) from exc
        request_id = headers.get(self.request_id_header)
        if status >= 400:
            detail = gemini.decode_error(content)
            raise http_error(self.provider, request.model, status, headers, content, detail, request_id)
        data = parse_json(self.provider, request.model, content)
        texts = [str(item) for item in request.inputs]
        usage = Usage(input_tokens=sum(count_tokens(text, request.model) for text in texts))
        try:
            response = wire.decode_batch_response(data, request.model, texts, usage)
        except WireError as exc:
            raise wire_error(self.provider, request.model, exc) from exc
        response.provider = self.provider.name
        response.request_id = request_id
        response.emulated = headers.get(EMULATED_HEADER) == "true"
        response.latency_s = time.perf_counter() - started
        return response

    async def aclose(self) -> None:
        return None  # the provider's session belongs to the chat adapter that shares it
