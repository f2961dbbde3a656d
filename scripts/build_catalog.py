"""Build the bundled price catalog from a dated copy of LiteLLM's price table.

    python scripts/build_catalog.py [--source PATH] [--out PATH] [--check]

The source is our reference snapshot of LiteLLM's ``model_prices_and_context_window.json`` (litellm
1.110.2, read 2026-11-26): ``{"_about": ..., "models": {name: {<LiteLLM per-token fields>,
"provider": ...}}}``. Each entry goes through the same conversion as a user's LiteLLM file
(``inferopt.pricing.litellm_format``): per-token prices become per-1M prices, and prices the source
lacks are filled from provider policy (``inferopt.pricing.policy``) and named in ``derived``.
The output is deterministic (models sorted by name), so ``--check`` can verify that the committed
catalog is what the source and the code produce.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from inferopt.pricing.catalog import BUNDLED_CATALOG, CURRENCY, UNIT
from inferopt.pricing.litellm_format import price_from_litellm_entry
from inferopt.pricing.model_price import LIMIT_FIELDS, PRICE_FIELDS, ModelPrice

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "reference" / "pricing-2026-11.json"
DEFAULT_OUT = REPO / "src" / "inferopt" / "pricing" / BUNDLED_CATALOG
DATE = "2026-11-26"
SOURCE = (
    "LiteLLM model_prices_and_context_window.json as shipped in litellm 1.110.2 (PyPI), read "
    f"{DATE}; per-token prices converted to per 1M tokens. Fields named in a model's 'derived' come "
    "from the provider's published pricing policy (see inferopt.pricing.policy), not from LiteLLM."
)


def build(source: dict[str, Any]) -> dict[str, Any]:
    """The catalog document for a parsed reference snapshot."""
    models = source.get("models")
    if not isinstance(models, dict) or not models:
        raise SystemExit("source has no 'models' object")
    prices = []
    for name, entry in sorted(models.items()):
        litellm_entry = {**entry, "litellm_provider": entry["provider"]}
        prices.append(price_from_litellm_entry(name, entry["provider"], litellm_entry, file="source"))
    return {
        "date": DATE,
        "currency": CURRENCY,
        "unit": UNIT,
        "source": SOURCE,
        "models": {price.name: _entry(price) for price in prices},
    }


def _entry(price: ModelPrice) -> dict[str, Any]:
    entry: dict[str, Any] = {"provider": price.provider}
    entry.update({field: getattr(price, field) for field in PRICE_FIELDS})
    entry["batch_cache_discount"] = price.batch_cache_discount
    entry.update({field: getattr(price, field) for field in LIMIT_FIELDS})
    entry["derived"] = list(price.derived)
    return entry


def render(catalog: dict[str, Any]) -> str:
    return json.dumps(catalog, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="reference price snapshot")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="catalog file to write")
    parser.add_argument("--check", action="store_true", help="fail if --out is not up to date")
    args = parser.parse_args(argv)

    text = render(build(json.loads(args.source.read_text(encoding="utf-8"))))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date; run scripts/build_catalog.py", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {len(json.loads(text)['models'])} models to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
