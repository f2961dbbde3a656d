"""What the embeddings adapters share: one POST with the error mapping, and the answer's stamp.

The wires differ (OpenAI's ``/embeddings``, Gemini's ``:batchEmbedContents``: see their codecs);
the I/O around them does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from inferopt.embeddings.types import EmbeddingResponse
from inferopt.providers.base import EMULATED_HEADER, Provider, http_error, parse_json, transport_error
from inferopt.providers.http import TransportFailure
from inferopt.wire.common import ErrorDetail


async def post_json(
    provider: Provider,
    model: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    decode_error: Callable[[bytes], ErrorDetail],
    request_id_header: str,
) -> tuple[Mapping[str, str], dict[str, Any]]:
    """POST ``body``; the response headers and its JSON object, or the mapped error."""
    try:
        status, answer_headers, content = await provider.http.post(path, body, headers)
    except TransportFailure as exc:
        raise transport_error(provider, model, exc) from exc
    if status >= 400:
        request_id = answer_headers.get(request_id_header)
        raise http_error(provider, model, status, answer_headers, content, decode_error(content), request_id)
    return answer_headers, parse_json(provider, model, content)


def stamp(
    response: EmbeddingResponse,
    provider: Provider,
    headers: Mapping[str, str],
    request_id_header: str,
    started: float,
) -> EmbeddingResponse:
    """``response`` with where it came from and how long it took."""
    response.provider = provider.name
    response.request_id = headers.get(request_id_header)
    response.emulated = headers.get(EMULATED_HEADER) == "true"
    response.latency_s = time.perf_counter() - started
    return response
