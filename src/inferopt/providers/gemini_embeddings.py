"""Gemini embeddings over HTTP: auth, path and the I/O driver; the wire is :mod:`inferopt.wire.gemini_embeddings`.

``POST {base_url}/v1beta/models/{model}:batchEmbedContents`` with ``x-goog-api-key``. Gemini reports
no usage for embeddings, so the input tokens are counted here (:mod:`inferopt.tokens`: an estimate
for Gemini's tokenizer, as for its chat prompts).
"""

from __future__ import annotations

import json
import time

from inferopt.embeddings.types import EmbeddingRequest, EmbeddingResponse
from inferopt.providers.base import Provider, wire_error
from inferopt.providers.embedding_http import post_json, stamp
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
        headers, data = await post_json(
            self.provider, request.model, path, body, self._headers(), gemini.decode_error, self.request_id_header
        )
        texts = [str(item) for item in request.inputs]
        usage = Usage(input_tokens=sum(count_tokens(text, request.model) for text in texts))
        try:
            response = wire.decode_batch_response(data, request.model, texts, usage)
        except WireError as exc:
            raise wire_error(self.provider, request.model, exc) from exc
        return stamp(response, self.provider, headers, self.request_id_header, started)

    async def aclose(self) -> None:
        return None  # the provider's session belongs to the chat adapter that shares it
