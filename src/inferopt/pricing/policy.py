"""Fill prices a price source leaves out, from a provider's published pricing policy.

Only rules that the provider states for all its models are applied, a price stated by the source
always wins, and every filled field is named in ``ModelPrice.derived`` so it can be told apart.

Anthropic (platform.claude.com/docs/en/about-claude/pricing, "Prompt caching" and "Batch processing"):
  - 5-minute cache write = 1.25x input, 1-hour cache write = 2x input, cache read = 0.1x input.
    The page lists per-model exceptions for reads (0.025x on Claude Fable 5.1 and Mythos 5.1, 0.05x
    on Opus 5.5); the source states those reads, so the 0.1x rule is only a fallback.
  - Batch API = 50% of input and output.
  - "These multipliers stack with other pricing modifiers, including the Batch API discount": in a
    batch, cache reads and writes get the 50% discount too (``batch_cache_discount = True``).

OpenAI:
  - Cache writes cost the ordinary input price on models before GPT-5.6 ("Models before gpt-5.6 don't
    charge extra to write to the cache. On gpt-5.6 and later models, cache writes are billed";
    learn.microsoft.com Azure OpenAI prompt-caching guide; OpenAI's own prompt-caching FAQ: "Will I be
    expected to pay extra for writing to Prompt Caching? No."). Retention length does not change the
    price ("Prompt cache pricing is the same for both retention policies"), so the 1-hour field gets
    the input price as well. For GPT-5.6 and later the write price is left unknown unless stated.
  - Batch API = 50% of input and output (openai.com/api/pricing, "Batch" tab).
  - Cached input under Batch: the pricing page's Batch tab lists a cached-input price (half the
    standard cached price) for the GPT-5 family (gpt-5, gpt-5.1, gpt-5-mini, gpt-5-nano) and "-" for
    gpt-4.1, gpt-4o and the o-series; the prompt-caching FAQ says "Discounting for Prompt Caching is
    not available on the Batch API" for those earlier models. So ``batch_cache_discount`` is True for
    GPT-5 and later, False before, and unknown for names that reveal no generation.

Gemini: nothing is derived (Batch and context-caching interplay is not stated as a general rule).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Literal

from inferopt.pricing.model_price import PRICE_FIELDS, ModelPrice

BATCH_DISCOUNT = 0.5
ANTHROPIC_CACHE_READ = 0.1
ANTHROPIC_CACHE_WRITE_5M = 1.25
ANTHROPIC_CACHE_WRITE_1H = 2.0

OpenAIGeneration = Literal["before-gpt-5", "gpt-5", "gpt-5.6-or-later"]

_FIELD_ORDER = (*PRICE_FIELDS, "batch_cache_discount")
_GPT_VERSION = re.compile(r"^gpt-(\d+)(?:\.(\d+))?")
_O_SERIES = re.compile(r"^o\d+(?:-|$)")


def openai_generation(name: str) -> OpenAIGeneration | None:
    """Which pricing generation an OpenAI model name belongs to, or None if the name does not say."""
    if _O_SERIES.match(name):
        return "before-gpt-5"
    match = _GPT_VERSION.match(name)
    if match is None:
        return None
    version = (int(match[1]), int(match[2] or 0))
    if version < (5, 0):
        return "before-gpt-5"
    return "gpt-5" if version < (5, 6) else "gpt-5.6-or-later"


def apply_provider_policy(price: ModelPrice) -> ModelPrice:
    """Fill the prices ``price`` lacks from its provider's policy; list them in ``derived``."""
    if price.provider == "anthropic":
        filled = _anthropic(price)
    elif price.provider == "openai":
        filled = _openai(price)
    else:
        return price
    missing = {field: value for field, value in filled.items() if getattr(price, field) is None}
    if not missing:
        return price
    derived = sorted({*price.derived, *missing}, key=_FIELD_ORDER.index)
    return replace(price, **missing, derived=tuple(derived))


def _anthropic(price: ModelPrice) -> dict[str, Any]:
    return {
        "cache_read": _times(price.input, ANTHROPIC_CACHE_READ),
        "cache_write_5m": _times(price.input, ANTHROPIC_CACHE_WRITE_5M),
        "cache_write_1h": _times(price.input, ANTHROPIC_CACHE_WRITE_1H),
        "batch_input": _times(price.input, BATCH_DISCOUNT),
        "batch_output": _times(price.output, BATCH_DISCOUNT),
        "batch_cache_discount": True,
    }


def _openai(price: ModelPrice) -> dict[str, Any]:
    generation = openai_generation(price.name)
    filled: dict[str, Any] = {
        "batch_input": _times(price.input, BATCH_DISCOUNT),
        "batch_output": _times(price.output, BATCH_DISCOUNT),
    }
    if generation in ("before-gpt-5", "gpt-5"):
        filled["cache_write_5m"] = price.input
        filled["cache_write_1h"] = price.input
    if generation is not None:
        filled["batch_cache_discount"] = generation != "before-gpt-5"
    return filled


def _times(price: float, multiplier: float) -> float:
    # Rounded so that 1.1 * 1.25 is stored as 1.375, not 1.3750000000000002.
    return round(price * multiplier, 6)
