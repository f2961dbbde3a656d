"""The embeddings vocabulary: a request of many inputs, an answer of as many vectors, and the seam.

An :class:`EmbeddingModel` is to embeddings what :class:`~inferopt.types.Model` is to chat: providers
implement it over HTTP, optimizations (the per-item cache, pricing) wrap one and are one. Vectors
are plain lists of floats in the seam; ``encoding_format`` (float or base64) is only a wire
concern, so a cached vector answers either.

An input is a string or a list of token ids (OpenAI accepts both; a token array is embedded as
the text it encodes). ``usage.input_tokens`` counts every input token; embeddings have no output.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from inferopt.types import Usage

EmbeddingInput = str | list[int]


@dataclass(slots=True)
class EmbeddingRequest:
    """Inputs to embed with ``model``, in order.

    ``dimensions`` asks for shorter vectors (models that support it); ``user`` is a provider-side
    label. ``extra`` carries other body fields verbatim (they are part of a vector's cache identity);
    ``options`` carries inferopt's own switches (cache mode, namespace), never sent upstream.
    """

    model: str
    inputs: list[EmbeddingInput]
    dimensions: int | None = None
    user: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def with_model(self, model: str) -> EmbeddingRequest:
        return replace(self, model=model)

    def with_inputs(self, inputs: list[EmbeddingInput]) -> EmbeddingRequest:
        return replace(self, inputs=inputs)


@dataclass(slots=True)
class EmbeddingResponse:
    """One vector per input, in the request's order, with the call's usage and what happened.

    ``cache`` is the per-item cache's outcome (``hit``: every vector from the cache, ``partial``,
    ``miss``, ``bypass``); the counts are in ``annotations`` (``cache_hits``, ``cache_misses``).
    ``cost_usd`` prices what was sent upstream only.
    """

    model: str
    vectors: list[list[float]]
    usage: Usage
    provider: str = ""
    request_id: str | None = None
    emulated: bool = False
    latency_s: float | None = None
    cost_usd: float | None = None
    cache: str | None = None
    annotations: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class EmbeddingModel(Protocol):
    """The embeddings seam: ``embed`` answers every input of a request, in order."""

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse: ...

    async def aclose(self) -> None: ...
