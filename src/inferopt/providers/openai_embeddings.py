"""OpenAI embeddings over HTTP (OpenAI, Azure OpenAI, vLLM, Ollama or any OpenAI-compatible base_url):
auth, path and the I/O driver; the wire is :mod:`inferopt.wire.openai_embeddings`.

``POST {base_url}/embeddings`` with ``Authorization: Bearer``, on the provider's pooled session.
"""

from __future__ import annotations

import json
import time

from inferopt.embeddings.types import EmbeddingRequest, EmbeddingResponse
from inferopt.providers.base import EMULATED_HEADER, Provider, http_error, parse_json, transport_error, wire_error
from inferopt.providers.http import TransportFailure
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
        body = json.dumps(wire.encode_request(request)).encode()
        try:
            status, headers, content = await self.provider.http.post(self.path, body, self._headers())
        except TransportFailure as exc:
            raise transport_error(self.provider, request.model, exc) from exc
        request_id = headers.get(self.request_id_header)
        if status >= 400:
            detail = wire.decode_error(content)
            raise http_error(self.provider, request.model, status, headers, content, detail, request_id)
        data = parse_json(self.provider, request.model, content)
        try:
            response = wire.decode_response(data, request.model, expected=len(request.inputs))
        except WireError as exc:
            raise wire_error(self.provider, request.model, exc) from exc
        response.provider = self.provider.name
        response.request_id = request_id
        response.emulated = headers.get(EMULATED_HEADER) == "true"
        response.latency_s = time.perf_counter() - started
        return response

    async def aclose(self) -> None:
        return None  # the provider's session belongs to the chat adapter that shares it
