"""Per-row token estimates and per-route prices, from the token counter and the price catalog."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from inferopt.parallel.batch_api.savings import DEFAULT_OUTPUT_TOKENS
from inferopt.pricing import PriceCatalog, cost_of
from inferopt.pricing.catalog import default_catalog
from inferopt.tokens import count_request_tokens
from inferopt.types import ChatRequest, Usage


@dataclass(frozen=True, slots=True)
class RowEstimate:
    """One row's predicted tokens: its prompt counted, its answer assumed ``max_tokens`` long."""

    index: int
    input_tokens: int
    output_tokens: int

    @property
    def usage(self) -> Usage:
        return Usage(self.input_tokens, self.output_tokens)


def estimate_rows(
    rows: Iterable[tuple[int, ChatRequest]],
    model: str,
    output_tokens: int | None = None,
    answer_tokens: int | None = None,
) -> list[RowEstimate]:
    """Token estimates of each ``(index, request)``.

    An answer is assumed ``max_tokens`` long (the most it can cost), or ``output_tokens`` without
    max_tokens; ``answer_tokens`` (what the user expects, e.g. 1 for a one-word label) caps both.
    """
    fallback = output_tokens if output_tokens is not None else DEFAULT_OUTPUT_TOKENS
    cap = answer_tokens if answer_tokens is not None else 1 << 62
    return [
        RowEstimate(index, count_request_tokens(request, model), min(cap, request.max_tokens or fallback))
        for index, request in rows
    ]


@dataclass(frozen=True, slots=True)
class Rates:
    """Which tiers a model has, priced per row by the catalog (None: the tier is not offered)."""

    model: str
    flex: bool
    batch: bool
    catalog: PriceCatalog

    @classmethod
    def for_model(cls, model: str, catalog: PriceCatalog | None = None) -> Rates:
        catalog = catalog or default_catalog()
        price = catalog.get(model)  # UnknownModelError names the model and the fix
        # Flex is an OpenAI tier billed at its batch rates; without batch prices it cannot be priced.
        return cls(model, price.has_batch_prices and price.provider == "openai", price.has_batch_prices, catalog)

    def cost(self, usage: Usage, route: str) -> float:
        if route == "cache":
            return 0.0
        if route == "flex":
            return cost_of(usage, self.model, tier="flex", catalog=self.catalog)
        return cost_of(usage, self.model, batch=route == "batch", catalog=self.catalog)

    def total(self, rows: Iterable[RowEstimate], route: str) -> float:
        usage = Usage()
        for row in rows:
            usage += row.usage
        return self.cost(usage, route)
