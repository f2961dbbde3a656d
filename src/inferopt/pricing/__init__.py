"""Model prices and the cost of a call.

::

    from inferopt.pricing import cost_breakdown, cost_of

    cost_of(response.usage, "claude-sonnet-4-5")            # USD, from the bundled catalog
    cost_breakdown(response.usage, "gpt-4o", batch=True)     # per component

The bundled catalog is dated (see :mod:`inferopt.pricing.catalog`); extend or override it with a
price file in our schema or LiteLLM's format.
"""

from inferopt.pricing.catalog import PriceCatalog, default_catalog
from inferopt.pricing.cost import CostBreakdown, CostUnknownWarning, cost_breakdown, cost_of
from inferopt.pricing.model_price import ModelPrice

__all__ = [
    "CostBreakdown",
    "CostUnknownWarning",
    "ModelPrice",
    "PriceCatalog",
    "cost_breakdown",
    "cost_of",
    "default_catalog",
]
