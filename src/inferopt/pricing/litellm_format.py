"""Read prices in LiteLLM's ``model_prices_and_context_window.json`` format.

LiteLLM's table gives USD per token under keys such as ``input_cost_per_token``; it is converted to
our per-1M unit here. Only chat models are kept (``mode`` of ``chat`` or ``responses``, or no mode);
embeddings, image and audio entries, the ``sample_spec`` documentation entry and entries without
both an input and an output price are skipped. Keys such as ``gemini/gemini-2.5-flash`` lose the
prefix that names their own provider, so they replace the bundled ``gemini-2.5-flash``.

LiteLLM cannot say whether a price is missing or not offered, so the provider policy of
:mod:`inferopt.pricing.policy` fills what it can and lists it in ``derived``. Long-context tiers
(``*_above_200k_tokens``) are not modelled: the base price is used for every prompt length.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inferopt.errors import PricingError
from inferopt.pricing.model_price import ModelPrice
from inferopt.pricing.policy import apply_provider_policy

CHAT_MODES = frozenset({"chat", "responses"})
# Prefixes stripped from model names, ours and LiteLLM's alike.
PROVIDER_PREFIXES = ("openai/", "anthropic/", "gemini/")

# LiteLLM per-token field -> our per-1M field.
_PER_TOKEN_FIELDS = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write_5m",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
    "input_cost_per_token_batches": "batch_input",
    "output_cost_per_token_batches": "batch_output",
}
_LIMIT_FIELDS = {"max_input_tokens": "context_window", "max_output_tokens": "max_output_tokens"}


def looks_like_litellm(data: Mapping[str, Any]) -> bool:
    """True if ``data`` is a LiteLLM price table rather than our catalog schema."""
    if "sample_spec" in data:
        return True
    return any(isinstance(entry, Mapping) and "input_cost_per_token" in entry for entry in data.values())


def prices_from_litellm(data: Mapping[str, Any], *, file: str) -> dict[str, ModelPrice]:
    """Chat-model prices from a parsed LiteLLM table. ``file`` names the source in errors."""
    prices: dict[str, ModelPrice] = {}
    named_by_own_provider: set[str] = set()
    for key, entry in data.items():
        if key == "sample_spec":
            continue
        if not isinstance(entry, Mapping):
            raise PricingError(f"{file}: entry {key!r} is not an object")
        if not _is_priced_chat_model(entry):
            continue
        provider = str(entry.get("litellm_provider", ""))
        name = _strip_own_prefix(key, provider)
        # An entry keyed "gemini/x" by the Gemini API itself beats another provider's plain "x"
        # (LiteLLM lists Vertex AI's Gemini models without a prefix).
        own_key = name != key
        if name in prices and name in named_by_own_provider and not own_key:
            continue
        if own_key:
            named_by_own_provider.add(name)
        prices[name] = price_from_litellm_entry(name, provider, entry, file=file)
    return prices


def price_from_litellm_entry(name: str, provider: str, entry: Mapping[str, Any], *, file: str) -> ModelPrice:
    """One LiteLLM entry as a :class:`ModelPrice`, with provider policy applied."""
    values: dict[str, Any] = {}
    for source_field, field in _PER_TOKEN_FIELDS.items():
        per_token = _number(entry, source_field, name=name, file=file)
        values[field] = None if per_token is None else per_1m(per_token)
    for source_field, field in _LIMIT_FIELDS.items():
        limit = _number(entry, source_field, name=name, file=file)
        values[field] = None if limit is None else int(limit)
    price = ModelPrice(name=name, provider=provider, **values)
    return apply_provider_policy(price)


def per_1m(per_token: float) -> float:
    """A per-token price as a per-1M-token price, without float noise (2.5e-06 -> 2.5)."""
    return round(per_token * 1_000_000, 6)


def _is_priced_chat_model(entry: Mapping[str, Any]) -> bool:
    mode = entry.get("mode")
    if mode is not None and mode not in CHAT_MODES:
        return False
    return entry.get("input_cost_per_token") is not None and entry.get("output_cost_per_token") is not None


def _strip_own_prefix(key: str, provider: str) -> str:
    prefix = f"{provider}/"
    if provider and prefix in PROVIDER_PREFIXES and key.startswith(prefix):
        return key[len(prefix) :]
    return key


def _number(entry: Mapping[str, Any], field: str, *, name: str, file: str) -> float | None:
    value = entry.get(field)
    if value is None:
        return None
    # bool is an int in Python; a true/false price is a broken file, not 1 or 0 dollars.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PricingError(f"{file}: model {name!r}: {field} must be a number, got {value!r}")
    if value < 0:
        raise PricingError(f"{file}: model {name!r}: {field} must not be negative, got {value!r}")
    return float(value)
