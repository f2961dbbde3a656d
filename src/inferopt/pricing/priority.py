"""OpenAI's Priority processing tier (``service_tier: "priority"``): faster, at a premium.

Per 1M tokens: input, cached input, output, as published on openai.com/api-priority-processing
(read 2026-12-07; requests under 128K prompt tokens). A model not listed has no priority price:
``cost_of(..., tier="priority")`` raises :class:`~inferopt.errors.PricingError` for it, naming the
fix, rather than guessing.
"""

from __future__ import annotations

from inferopt.errors import PricingError

PRIORITY_PRICES: dict[str, tuple[float, float, float]] = {
    "gpt-5": (2.50, 0.25, 20.00),
    "gpt-5.1": (2.50, 0.25, 20.00),
    "gpt-5-mini": (0.45, 0.045, 3.60),
    "gpt-4.1": (3.50, 0.875, 14.00),
    "gpt-4.1-mini": (0.70, 0.175, 2.80),
    "gpt-4.1-nano": (0.20, 0.05, 0.80),
    "gpt-4o": (4.25, 2.125, 17.00),
    "gpt-4o-2024-11-20": (4.25, 2.125, 17.00),
    "gpt-4o-2024-08-06": (4.25, 2.125, 17.00),
    "gpt-4o-mini": (0.25, 0.125, 1.00),
    "o3": (3.50, 0.875, 14.00),
    "o4-mini": (2.00, 0.50, 8.00),
}


def priority_prices(model: str) -> tuple[float, float, float]:
    """``(input, cached input, output)`` per 1M tokens of ``model`` on the priority tier."""
    prices = PRIORITY_PRICES.get(model)
    if prices is None:
        raise PricingError(
            f"no priority-tier price for model {model!r} (known: {', '.join(sorted(PRIORITY_PRICES))}); "
            "send it on the standard tier, or add it to inferopt.pricing.priority.PRIORITY_PRICES"
        )
    return prices
