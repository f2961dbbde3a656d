"""What a job would cost live and through the Batch API, before it runs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from inferopt.pricing import PriceCatalog, cost_of
from inferopt.tokens import count_request_tokens
from inferopt.types import ChatRequest, Usage

# Answers of requests without max_tokens are assumed this long: a short-answer job (classify,
# extract, label) is the common batch case. Pass ``output_tokens`` when you know better.
DEFAULT_OUTPUT_TOKENS = 256


class BatchSavings(NamedTuple):
    """``(realtime_usd, batch_usd)``: the same job's estimated cost both ways."""

    realtime_usd: float
    batch_usd: float

    @property
    def saved_usd(self) -> float:
        return self.realtime_usd - self.batch_usd

    @property
    def saved_fraction(self) -> float:
        return self.saved_usd / self.realtime_usd if self.realtime_usd else 0.0


def estimate_batch_savings(
    requests: Iterable[ChatRequest],
    model: str,
    *,
    output_tokens: int | None = None,
    catalog: PriceCatalog | None = None,
) -> BatchSavings:
    """Estimated cost of ``requests`` on ``model`` at realtime and at Batch API prices.

    Prompt tokens are counted (exactly with tiktoken files, else estimated); answer tokens are
    each request's ``max_tokens``, else ``output_tokens``, else :data:`DEFAULT_OUTPUT_TOKENS`
    (an upper bound when max_tokens is set). Both figures use the same token estimates, so
    their ratio is exact even when the tokens are not. Raises ``UnknownModelError`` for a model
    the catalog lacks and ``PricingError`` when it has no batch price.
    """
    total = Usage()
    for request in requests:
        answer = request.max_tokens if request.max_tokens is not None else output_tokens
        total += Usage(count_request_tokens(request, model), answer if answer is not None else DEFAULT_OUTPUT_TOKENS)
    return BatchSavings(
        cost_of(total, model, catalog=catalog),
        cost_of(total, model, batch=True, catalog=catalog),
    )
