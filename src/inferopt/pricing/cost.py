"""What one call cost, in USD, and where the money went.

Token convention (see :mod:`inferopt.types`): ``input_tokens`` counts every prompt token, cache reads
and writes included. Each prompt token is billed exactly once, at one price:

- uncached input (``input_tokens - cache_read_tokens - cache_write_tokens``) at the input price;
- cache reads at the cache-read price;
- cache writes at the cache-write price only, never also at the input price (LiteLLM once billed
  them twice); ``cache_write_1h_tokens`` at the 1-hour price, the rest at the 5-minute price;
- output at the output price. ``reasoning_tokens`` are part of ``output_tokens`` (OpenAI and
  Anthropic both count them there), so they are not billed again.

Unknown prices (``None`` in the catalog) are treated as follows; no undocumented discount is assumed:

- cache read unknown: billed at the input price (no cache discount is assumed);
- cache write unknown: billed at the input price (no surcharge is known); a 1-hour write with an
  unknown 1-hour price is billed at the 5-minute write price;
- batch price unknown with ``batch=True``: :class:`~inferopt.errors.PricingError` naming the model.

Batch (``batch=True``) uses the model's batch input and output prices. Cache tokens in a batch follow
``ModelPrice.batch_cache_discount``, which records each provider's rule:

- Anthropic: the batch discount also applies to cache reads and writes. Pricing page
  (platform.claude.com/docs/en/about-claude/pricing, "Prompt caching"): "These multipliers stack
  with other pricing modifiers, including the Batch API discount". A batched 5-minute write on
  claude-sonnet-4-5 costs 3.75 * 0.5 = 1.875 USD per 1M tokens, a batched read 0.30 * 0.5 = 0.15.
- OpenAI: openai.com/api/pricing, "Batch" tab, lists a batch cached-input price (half the standard
  cached price) for the GPT-5 family, and none ("-") for gpt-4.1, gpt-4o and the o-series, whose
  prompt-caching FAQ says "Discounting for Prompt Caching is not available on the Batch API".
  So gpt-5 cached tokens in a batch cost 0.125 * 0.5 = 0.0625 per 1M, while gpt-4o cached tokens
  cost the batch input price, 1.25 per 1M.
- Unknown (Gemini, or a name that reveals no OpenAI generation): cache tokens are billed at the
  batch input price, the higher of the two readings.

The discount applied to cache prices is the model's own batch/standard input ratio (0.5 for both
providers today).

Service tiers (``tier=``): OpenAI's ``flex`` tier (``service_tier: "flex"``) is billed at Batch API
rates ("Tokens are priced at Batch API rates, with additional discounts from prompt caching",
developers.openai.com/api/docs/guides/flex-processing), so ``tier="flex"`` prices a call exactly as
``batch=True`` does. ``"priority"`` (``service_tier: "priority"``) is OpenAI's premium tier, priced
from :mod:`inferopt.pricing.priority` (cache writes as input). ``"standard"`` (the default) is the
ordinary price.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

from inferopt.errors import InvalidArgumentError, PricingError, UnknownModelError
from inferopt.pricing.catalog import PriceCatalog, default_catalog
from inferopt.pricing.model_price import ModelPrice
from inferopt.pricing.priority import priority_prices
from inferopt.types import Usage

OnUnknown = Literal["error", "zero"]
Tier = Literal["standard", "flex", "priority"]
_PER_MILLION = 1_000_000


class CostUnknownWarning(UserWarning):
    """A cost was reported as 0.0 because the model (or its batch price) has no known price."""


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Dollars (USD) per component of one call. ``priced`` is False when the cost is unknown
    (``on_unknown="zero"``), so a report can tell a free call from an unpriced one."""

    model: str
    batch: bool = False
    uncached_input: float = 0.0
    cache_read: float = 0.0
    cache_write_5m: float = 0.0
    cache_write_1h: float = 0.0
    output: float = 0.0
    priced: bool = True

    @property
    def input(self) -> float:
        """Every prompt-side dollar: uncached input, cache reads and cache writes."""
        return self.uncached_input + self.cache_read + self.cache_write_5m + self.cache_write_1h

    @property
    def total(self) -> float:
        return self.input + self.output


@dataclass(frozen=True, slots=True)
class _Rates:
    """USD per 1M tokens, every unknown already resolved."""

    input: float
    output: float
    cache_read: float
    cache_write_5m: float
    cache_write_1h: float


def cost_of(
    usage: Usage,
    model: str,
    *,
    batch: bool = False,
    tier: Tier = "standard",
    catalog: PriceCatalog | None = None,
    on_unknown: OnUnknown = "error",
    at: float | None = None,
) -> float:
    """The cost of one call in USD: the sum of :func:`cost_breakdown`.

    ``on_unknown="zero"`` returns 0.0 with a :class:`CostUnknownWarning` instead of raising when the
    model, or its batch price, is unknown.
    """
    return cost_breakdown(usage, model, batch=batch, tier=tier, catalog=catalog, on_unknown=on_unknown, at=at).total


def cost_breakdown(
    usage: Usage,
    model: str,
    *,
    batch: bool = False,
    tier: Tier = "standard",
    catalog: PriceCatalog | None = None,
    on_unknown: OnUnknown = "error",
    at: float | None = None,
) -> CostBreakdown:
    """The cost of one call in USD, per component. See the module docstring for the rules.

    Raises UnknownModelError (model not in ``catalog``, default: the bundled catalog) or
    PricingError (``batch=True`` and no batch price) unless ``on_unknown="zero"``, and ValueError
    if ``usage`` breaks the token convention of :mod:`inferopt.types`. ``at`` (epoch seconds,
    default now) picks the price in effect then, where the catalog has dated prices.
    """
    _check_usage(usage)
    batch = batch or tier == "flex"  # flex is billed at batch rates (module docstring)
    try:
        price = (catalog or default_catalog()).get(model, at=at)
        if tier == "priority" and not batch:
            rates = _priority_rates(price)
        else:
            rates = _batch_rates(price) if batch else _standard_rates(price)
    except (UnknownModelError, PricingError) as exc:
        if on_unknown != "zero":
            raise
        warnings.warn(f"cost of {model!r} reported as 0.0: {exc}", CostUnknownWarning, stacklevel=2)
        return CostBreakdown(model=model, batch=batch, priced=False)
    write_1h = usage.cache_write_1h_tokens
    return CostBreakdown(
        model=model,
        batch=batch,
        uncached_input=_dollars(usage.uncached_input_tokens, rates.input),
        cache_read=_dollars(usage.cache_read_tokens, rates.cache_read),
        cache_write_5m=_dollars(usage.cache_write_tokens - write_1h, rates.cache_write_5m),
        cache_write_1h=_dollars(write_1h, rates.cache_write_1h),
        output=_dollars(usage.output_tokens, rates.output),
    )


def _standard_rates(price: ModelPrice) -> _Rates:
    cache_write_5m = _or(price.cache_write_5m, price.input)
    return _Rates(
        input=price.input,
        output=price.output,
        cache_read=_or(price.cache_read, price.input),
        cache_write_5m=cache_write_5m,
        cache_write_1h=_or(price.cache_write_1h, cache_write_5m),
    )


def _priority_rates(price: ModelPrice) -> _Rates:
    given, cached, output = priority_prices(price.name)
    return _Rates(input=given, output=output, cache_read=cached, cache_write_5m=given, cache_write_1h=given)


def _batch_rates(price: ModelPrice) -> _Rates:
    if price.batch_input is None or price.batch_output is None:
        raise PricingError(
            f"no Batch API price for model {price.name!r}: add batch_input and batch_output for it "
            f"to a price file (config `pricing.files`, or PriceCatalog.load_file(path)), "
            f"or compute the cost with batch=False"
        )
    standard = _standard_rates(price)
    if price.batch_cache_discount:
        factor = price.batch_input / price.input if price.input else 1.0
        return _Rates(
            input=price.batch_input,
            output=price.batch_output,
            cache_read=standard.cache_read * factor,
            cache_write_5m=standard.cache_write_5m * factor,
            cache_write_1h=standard.cache_write_1h * factor,
        )
    # No discount on cache tokens in a batch: they are ordinary batch input.
    batch_input = price.batch_input
    return _Rates(batch_input, price.batch_output, batch_input, batch_input, batch_input)


def _check_usage(usage: Usage) -> None:
    counts = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
    }
    negative = [name for name, count in counts.items() if count < 0]
    if negative:
        raise InvalidArgumentError(f"Usage has negative token counts: {negative}")
    cached = usage.cache_read_tokens + usage.cache_write_tokens
    if cached > usage.input_tokens:
        # The usual cause: Anthropic's input_tokens (which excludes cache tokens) passed through as is.
        raise InvalidArgumentError(
            f"Usage is inconsistent: cache_read_tokens + cache_write_tokens ({cached}) exceed "
            f"input_tokens ({usage.input_tokens}); input_tokens must include cache tokens "
            f"(see inferopt.types)"
        )
    if usage.cache_write_1h_tokens > usage.cache_write_tokens:
        raise InvalidArgumentError(
            f"Usage is inconsistent: cache_write_1h_tokens ({usage.cache_write_1h_tokens}) exceed "
            f"cache_write_tokens ({usage.cache_write_tokens}), of which they are a part"
        )


def _dollars(tokens: int, usd_per_million: float) -> float:
    return tokens * usd_per_million / _PER_MILLION


def _or(value: float | None, fallback: float) -> float:
    return fallback if value is None else value
