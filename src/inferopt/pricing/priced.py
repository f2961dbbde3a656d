"""The one place an answer is priced: a Model wrapper that sets ``cost_usd`` from the catalog.

The client puts it outermost on every model's stack, so each upstream answer is priced exactly
once, whatever served it. A router is a Model over such priced stacks: it adds up its attempts'
costs itself (:class:`~inferopt.routing.routed.RouteRecord`) and is not priced again. An answer
served from the answer cache costs nothing (what it saved is in the cache's own figures). An
unknown price is reported as ``None`` (never 0) with one :class:`CostUnknownWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterable

from inferopt.errors import PricingError, ProviderError, UnknownModelError
from inferopt.pricing.catalog import PriceCatalog
from inferopt.pricing.cost import CostUnknownWarning, Tier, cost_of
from inferopt.types import ChatRequest, ChatResponse, Model, StreamDone, StreamEvent, Usage, close_stream

_FREE = ("hit", "semantic_hit")


class Priced:
    """Price ``inner``'s answers under ``name`` (the config's model id), else the model that answered."""

    def __init__(self, inner: Model, catalog: PriceCatalog, name: str) -> None:
        self.inner = inner
        self.catalog = catalog
        self.name = name
        self._warned = False

    def price(self, response: ChatResponse) -> ChatResponse:
        if response.cache in _FREE:
            response.cost_usd = 0.0
            return response
        served = response.annotations.get("service_tier")
        tier: Tier = served if served in ("flex", "priority") else "standard"
        response.cost_usd = cost_or_none(response.usage, (self.name, response.model), self.catalog, tier)
        if response.cost_usd is None and not self._warned:
            self._warned = True
            warn_unpriced(self.name, stacklevel=5)
        return response

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return self.price(await self.inner.complete(request))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        upstream = self.inner.stream(request)
        try:
            async for event in upstream:
                yield StreamDone(self.price(event.response)) if isinstance(event, StreamDone) else event
        except ProviderError as error:
            if error.partial is not None:  # a stream cut part-way is billed for what it generated
                self.price(error.partial)
            raise
        finally:
            await close_stream(upstream)

    async def aclose(self) -> None:
        await self.inner.aclose()


def cost_or_none(usage: Usage, names: Iterable[str], catalog: PriceCatalog, tier: Tier = "standard") -> float | None:
    """The cost of ``usage`` under the first of ``names`` the catalog prices; None if none is.

    An answer served on OpenAI's flex tier (the provider said so) is billed at its batch rates, one
    served on its priority tier at the priority rates."""
    for name in names:
        try:
            return cost_of(usage, name, tier=tier, catalog=catalog)
        except (UnknownModelError, PricingError):  # PricingError: a tier the model has no price for
            continue
    return None


def warn_unpriced(name: str, *, stacklevel: int) -> None:
    warnings.warn(
        f"no price known for model {name!r}: its cost is reported as unknown (None). Add a price "
        "under models.<alias>.price or pricing.files in the config.",
        CostUnknownWarning,
        stacklevel=stacklevel,
    )
