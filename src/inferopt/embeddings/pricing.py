"""Embeddings prices: the bundled embedding models' list prices and the wrapper that applies them.

The reference price snapshot the chat catalog is built from lists chat models only, so the
embedding models' prices live in their own bundled file (``pricing/embeddings-2026-11.json``,
entered by hand from OpenAI's published prices and dated). The client lays the chat catalog (with
the config's price files and per-alias prices) over it, so a user's own price wins.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from inferopt.embeddings.types import EmbeddingModel, EmbeddingRequest, EmbeddingResponse
from inferopt.errors import PricingError
from inferopt.pricing.catalog import PriceCatalog, prices_from_our_schema
from inferopt.pricing.priced import cost_or_none, warn_unpriced

EMBEDDINGS_CATALOG = "embeddings-2026-11.json"


@cache
def embedding_catalog() -> PriceCatalog:
    """The bundled embedding models' prices, read once per process."""
    name = f"inferopt/pricing/{EMBEDDINGS_CATALOG}"
    try:
        data = json.loads(resources.files("inferopt.pricing").joinpath(EMBEDDINGS_CATALOG).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise PricingError(f"{name}: cannot read the bundled embeddings prices: {exc}") from exc
    return PriceCatalog(prices_from_our_schema(data, file=name))


class PricedEmbeddings:
    """Price ``inner``'s answers under ``name`` (the config's model id), else the model that answered."""

    def __init__(self, inner: EmbeddingModel, catalog: PriceCatalog, name: str) -> None:
        self.inner = inner
        self.catalog = catalog
        self.name = name
        self._warned = False

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        response = await self.inner.embed(request)
        response.cost_usd = cost_or_none(response.usage, (self.name, response.model), self.catalog)
        if response.cost_usd is None and not self._warned:
            self._warned = True
            warn_unpriced(self.name, stacklevel=4)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
