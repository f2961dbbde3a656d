"""What a request may cost before it runs (to reserve budget) and what it cost once it ended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferopt.errors import UnknownModelError
from inferopt.pricing import PriceCatalog, cost_of
from inferopt.tokens import count_request_tokens, count_tokens
from inferopt.types import ChatRequest, Usage

if TYPE_CHECKING:
    from inferopt.gateway.sse import StreamOutcome


@dataclass(frozen=True, slots=True)
class Estimate:
    """Worst-case spend of one request: its prompt tokens plus every output token it may generate."""

    input_tokens: int
    output_tokens: int
    usd: float

    def times(self, n: int) -> Estimate:
        return Estimate(self.input_tokens * n, self.output_tokens * n, self.usd * n)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def price_or_zero(usage: Usage, model: str, catalog: PriceCatalog) -> float:
    try:
        return cost_of(usage, model, catalog=catalog)
    except UnknownModelError:
        return 0.0  # an unpriced model (self-hosted) costs nothing against a dollar budget


def estimate_of(request: ChatRequest, model: str, catalog: PriceCatalog, default_output_tokens: int) -> Estimate:
    """The reservation for ``request`` answered by ``model`` (``max_tokens``, else the default)."""
    input_tokens = count_request_tokens(request, model)
    output_tokens = request.max_tokens if request.max_tokens is not None else default_output_tokens
    return Estimate(input_tokens, output_tokens, price_or_zero(Usage(input_tokens, output_tokens), model, catalog))


def settled_cost(
    outcome: StreamOutcome | None, estimate: Estimate, model: str, catalog: PriceCatalog
) -> tuple[float, int]:
    """``(usd, tokens)`` actually used by a stream: its usage when it finished; when it was cut
    short, the prompt plus the text already streamed (what the provider bills for)."""
    if outcome is not None and outcome.response is not None:
        response = outcome.response
        return response.cost_usd or 0.0, response.usage.total_tokens
    if outcome is None or not outcome.started:
        return 0.0, 0
    output = count_tokens("".join(outcome.texts), model)
    usage = Usage(estimate.input_tokens, output)
    return price_or_zero(usage, model, catalog), usage.total_tokens
