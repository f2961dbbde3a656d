"""Per-row token estimates and per-route prices, from the token counter and the price catalog."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from inferopt.parallel.batch_api.savings import DEFAULT_OUTPUT_TOKENS
from inferopt.parallel.planner.prompt_cache import cache_read_tokens, shared_prefix_tokens
from inferopt.pricing import PriceCatalog, cost_of
from inferopt.pricing.catalog import default_catalog
from inferopt.tokens import count_request_tokens
from inferopt.types import ChatRequest, Message, Usage


@dataclass(frozen=True, slots=True)
class RowEstimate:
    """One row's predicted tokens: its prompt counted, its answer assumed ``max_tokens`` long."""

    index: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0  # of input_tokens, read from the provider's prompt cache (prompt_cache.py)

    @property
    def usage(self) -> Usage:
        return Usage(self.input_tokens, self.output_tokens, self.cache_read_tokens)

    def usage_on(self, route: str) -> Usage:
        """The row's usage on ``route``: batch lines read no prompt cache (as the emulator reports)."""
        return Usage(self.input_tokens, self.output_tokens) if route == "batch" else self.usage


class Estimator:
    """Token estimates of a job's rows, one at a time in input order (a row's prompt-cache reads depend
    on the row before it).

    An answer is assumed ``max_tokens`` long (the most it can cost), or ``output_tokens`` without
    max_tokens; ``answer_tokens`` (what the user expects, e.g. 1 for a one-word label) caps both.
    ``prompt_cache`` (OpenAI models) estimates each row's cached prompt tokens (``prompt_cache.py``).
    """

    def __init__(
        self,
        model: str,
        output_tokens: int | None = None,
        answer_tokens: int | None = None,
        prompt_cache: bool = False,
    ) -> None:
        self.model = model
        self.fallback = output_tokens if output_tokens is not None else DEFAULT_OUTPUT_TOKENS
        self.cap = answer_tokens if answer_tokens is not None else 1 << 62
        self.prompt_cache = prompt_cache
        self._previous: list[Message] | None = None

    def estimate(self, index: int, request: ChatRequest) -> RowEstimate:
        prompt = count_request_tokens(request, self.model)
        cached = 0
        if self.prompt_cache and self._previous is not None:
            cached = cache_read_tokens(shared_prefix_tokens(self._previous, request.messages, self.model), prompt)
        self._previous = request.messages
        return RowEstimate(index, prompt, min(self.cap, request.max_tokens or self.fallback), cached)


def estimate_rows(
    rows: Iterable[tuple[int, ChatRequest]],
    model: str,
    output_tokens: int | None = None,
    answer_tokens: int | None = None,
    prompt_cache: bool = False,
) -> list[RowEstimate]:
    """Token estimates of each ``(index, request)`` (see :class:`Estimator`)."""
    estimator = Estimator(model, output_tokens, answer_tokens, prompt_cache)
    return [estimator.estimate(index, request) for index, request in rows]


@dataclass(frozen=True, slots=True)
class Rates:
    """Which tiers a model has, priced per row by the catalog (None: the tier is not offered)."""

    model: str
    flex: bool
    batch: bool
    catalog: PriceCatalog
    prompt_cache: bool = False  # OpenAI caches long prompt prefixes on its own

    @classmethod
    def for_model(cls, model: str, catalog: PriceCatalog | None = None) -> Rates:
        catalog = catalog or default_catalog()
        price = catalog.get(model)  # UnknownModelError names the model and the fix
        # Flex is an OpenAI tier billed at its batch rates; without batch prices it cannot be priced.
        openai = price.provider == "openai"
        return cls(model, price.has_batch_prices and openai, price.has_batch_prices, catalog, prompt_cache=openai)

    def cost(self, usage: Usage, route: str) -> float:
        if route == "cache":
            return 0.0
        if route == "flex":
            return cost_of(usage, self.model, tier="flex", catalog=self.catalog)
        return cost_of(usage, self.model, batch=route == "batch", catalog=self.catalog)

    def total(self, rows: Iterable[RowEstimate], route: str) -> float:
        usage = Usage()
        for row in rows:
            usage += row.usage_on(route)
        return self.cost(usage, route)
