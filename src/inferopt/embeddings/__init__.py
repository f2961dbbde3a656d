"""Embeddings through every face of inferopt: the :class:`EmbeddingModel` seam, the per-item exact cache
(:class:`CachedEmbeddings`), pricing (:class:`PricedEmbeddings`), ``AsyncClient.embed``, the
gateway's and the emulator's ``POST /v1/embeddings``; the wire is :mod:`inferopt.wire.openai_embeddings`.
"""

from inferopt.embeddings.cache import CachedEmbeddings
from inferopt.embeddings.pricing import PricedEmbeddings, embedding_catalog
from inferopt.embeddings.types import EmbeddingInput, EmbeddingModel, EmbeddingRequest, EmbeddingResponse

__all__ = [
    "CachedEmbeddings",
    "EmbeddingInput",
    "EmbeddingModel",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "PricedEmbeddings",
    "embedding_catalog",
]
