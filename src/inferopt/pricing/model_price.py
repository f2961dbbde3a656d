"""One model's prices, in USD per 1 million tokens.

Per-1M is the unit providers publish, so a price read from a provider's page can be checked against
the catalog by eye, and the catalog file carries no ``2.4999999999999996e-06`` float noise.
``None`` means the price is unknown, never zero; :mod:`inferopt.pricing.cost` says how each unknown
price is treated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

# Field names as they appear in a model entry of our catalog schema (besides ``provider``), in the
# order the build script writes them.
PRICE_FIELDS = (
    "input",
    "output",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "batch_input",
    "batch_output",
)
LIMIT_FIELDS = ("context_window", "max_output_tokens")


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Prices of one model, in USD per 1M tokens (``None`` = unknown).

    ``cache_write_5m`` is the price of a cache write with the provider's default (short) lifetime;
    ``cache_write_1h`` of one written with Anthropic's 1-hour TTL. ``batch_cache_discount`` says
    whether the Batch API discount also applies to cache reads and writes (``True``), or cache tokens
    are billed as ordinary batch input (``False``); ``None`` if unknown. ``derived`` names the fields
    that come from a provider's published policy rather than from the price source.
    ``context_window`` is the largest prompt, in tokens.
    """

    name: str
    provider: str
    input: float
    output: float
    cache_read: float | None = None
    cache_write_5m: float | None = None
    cache_write_1h: float | None = None
    batch_input: float | None = None
    batch_output: float | None = None
    batch_cache_discount: bool | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    derived: tuple[str, ...] = ()
    # The UTC date (YYYY-MM-DD) this price took effect; None: always. An earlier price of the same
    # model stays in the catalog for calls before that date (PriceCatalog.find(model, at=...)).
    effective_from: str | None = None

    @property
    def effective_from_ts(self) -> float:
        """``effective_from`` as epoch seconds (UTC midnight); minus infinity when unset."""
        if self.effective_from is None:
            return float("-inf")
        return datetime.strptime(self.effective_from, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()

    @property
    def has_batch_prices(self) -> bool:
        return self.batch_input is not None and self.batch_output is not None
