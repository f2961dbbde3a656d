"""OpenAI embeddings over HTTP (OpenAI, Azure OpenAI, vLLM, Ollama or any OpenAI-compatible base_url):
auth, path and the I/O driver; the wire is :mod:`inferopt.wire.openai_embeddings`.

``POST {base_url}/embeddings`` with ``Authorization: Bearer``, on the provider's pooled session.
"""

from __future__ import annotations

import json
import time

from inferopt.embeddings.types import EmbeddingRequest, EmbeddingResponse
from inferopt.providers.base import Provider, wire_error
from inferopt.providers.embedding_http import post_json, stamp
from inferopt.wire import openai_embeddings as wire
from inferopt.wire.common import WireError


class OpenAIEmbedder:
    """The OpenAI embeddings wire as an :class:`~inferopt.embeddings.EmbeddingModel`."""

    path = "/embeddings"
    request_id_header = "x-request-id"

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.provider.api_key}"} if self.provider.api_key else {}

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        started = time.perf_counter()
        # base64 upstream whatever the caller asked: what the openai SDK itself asks for (so every
        # OpenAI-compatible server takes it), a third of the bytes, and no float parsing on our side.
        body = json.dumps(wire.encode_request(request, "base64")).encode()
        headers, data = await post_json(
            self.provider, request.model, self.path, body, self._headers(), wire.decode_error, self.request_id_header
        )
        try:
            response = wire.decode_response(data, request.model, expected=len(request.inputs))
        except WireError as exc:
            raise wire_error(self.provider, request.model, exc) from exc
        return stamp(response, self.provider, headers, self.request_id_header, started)

    async def aclose(self) -> None:
        return None  # the provider's session belongs to the chat adapter that shares it
