"""Gemini embeddings (``batchEmbedContents``, ``embedContent``), both directions, with no I/O.

``POST /v1beta/models/{model}:batchEmbedContents`` takes ``{"requests": [{"model": "models/M",
"content": {"parts": [{"text": ...}]}, "outputDimensionality": N}]}`` and answers
``{"embeddings": [{"values": [...]}]}``; ``:embedContent`` is one such request, answered
``{"embedding": {"values": [...]}}``. Only text inputs exist on this wire (no token arrays). The
API reports no token usage for embeddings: the adapter counts the inputs itself.
"""

from __future__ import annotations

from typing import Any

from inferopt.embeddings.types import EmbeddingRequest, EmbeddingResponse
from inferopt.types import Usage
from inferopt.wire.common import MalformedPayload


def _one(model: str, text: str, request: EmbeddingRequest) -> dict[str, Any]:
    item: dict[str, Any] = {"model": f"models/{model}", "content": {"parts": [{"text": text}]}}
    if request.dimensions is not None:
        item["outputDimensionality"] = request.dimensions
    if task := request.extra.get("taskType"):
        item["taskType"] = task
    return item


def encode_batch_request(request: EmbeddingRequest) -> dict[str, Any]:
    model = request.model.removeprefix("models/")
    texts = []
    for item in request.inputs:
        if not isinstance(item, str):
            raise MalformedPayload("the Gemini API embeds text only: pass strings, not token arrays")
        texts.append(item)
    return {"requests": [_one(model, text, request) for text in texts]}


def text_of(item: Any) -> str | None:
    """The text of one request's ``content`` (None when it is not text parts)."""
    content = item.get("content") if isinstance(item, dict) else None
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts:
        return None
    if not all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in parts):
        return None
    return "".join(p["text"] for p in parts)


def encode_batch_response(vectors: list[list[float]]) -> dict[str, Any]:
    return {"embeddings": [{"values": v} for v in vectors]}


def decode_batch_response(data: dict[str, Any], model: str, inputs: list[str], usage: Usage) -> EmbeddingResponse:
    items = data.get("embeddings")
    if not isinstance(items, list) or len(items) != len(inputs):
        count = len(items) if isinstance(items, list) else "no"
        raise MalformedPayload(f"a batchEmbedContents answer holds {count} embeddings for {len(inputs)} inputs")
    vectors = []
    for item in items:
        values = item.get("values") if isinstance(item, dict) else None
        if not isinstance(values, list):
            raise MalformedPayload("an embedding without its values")
        vectors.append([float(x) for x in values])
    return EmbeddingResponse(model=model, vectors=vectors, usage=usage)
