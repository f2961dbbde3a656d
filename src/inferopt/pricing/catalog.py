"""The price catalog: model name -> :class:`ModelPrice`.

The bundled catalog (``catalog-2026-11.json``, built by ``scripts/build_catalog.py``) holds the
list prices of OpenAI, Anthropic and Gemini chat models on 2026-11-26. Prices change; add or
override models with a price file, either in our schema or in LiteLLM's format (detected)::

    catalog = PriceCatalog.load_file("my-prices.json")   # bundled prices, overridden by the file

Our schema (prices in USD per 1M tokens, ``null`` = unknown; only provider, input and output are
required)::

    {"currency": "USD", "unit": "per 1M tokens",
     "models": {"my-model": {"provider": "openai", "input": 1.0, "output": 4.0, "cache_read": 0.1}}}

A price change on a date: give the new price an ``"effective_from": "2026-12-01"`` (UTC); the
price it replaces keeps billing calls made before that date (records are priced at their own
timestamp). Optional model fields: ``cache_read``, ``cache_write_5m``, ``cache_write_1h``, ``batch_input``,
``batch_output``, ``batch_cache_discount`` (true/false), ``context_window``, ``max_output_tokens``
and ``derived``; see :class:`ModelPrice`. Nothing is derived from provider policy for these files.

Lookup takes the name as given first, then without a provider prefix (``openai/gpt-4o`` ->
``gpt-4o``); names in price files lose that prefix when read, so ``openai/gpt-4o`` in a file
overrides ``gpt-4o``. An unknown name raises :class:`~inferopt.errors.UnknownModelError` with close names.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

from inferopt.errors import PricingError, UnknownModelError
from inferopt.pricing.litellm_format import PROVIDER_PREFIXES, looks_like_litellm, prices_from_litellm
from inferopt.pricing.model_price import LIMIT_FIELDS, PRICE_FIELDS, ModelPrice

BUNDLED_CATALOG = "catalog-2026-11.json"
# The date the bundled prices were read; the file's own "date" field, kept here so tools can show it
# without reading the file (tests/pricing check the two agree).
CATALOG_DATE = "2026-11-26"
UNIT = "per 1M tokens"
CURRENCY = "USD"

_REQUIRED_FIELDS = ("provider", "input", "output")
_MODEL_FIELDS = frozenset(
    {"provider", *PRICE_FIELDS, *LIMIT_FIELDS, "batch_cache_discount", "derived", "effective_from"}
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class PriceCatalog:
    """Prices by model name. Immutable: merging and loading return new catalogs."""

    def __init__(
        self,
        prices: Mapping[str, ModelPrice] | None = None,
        earlier: Mapping[str, tuple[ModelPrice, ...]] | None = None,
    ) -> None:
        self._prices: dict[str, ModelPrice] = dict(prices or {})
        # Prices a dated change replaced, oldest first, for calls made before the change.
        self._earlier: dict[str, tuple[ModelPrice, ...]] = dict(earlier or {})

    def get(self, model: str, *, at: float | None = None) -> ModelPrice:
        """The price of ``model`` (in effect at ``at``, epoch seconds; default now); raises
        UnknownModelError (with close names) if it has none."""
        price = self.find(model, at=at)
        if price is None:
            raise UnknownModelError(self._unknown_message(model))
        return price

    def find(self, model: str, *, at: float | None = None) -> ModelPrice | None:
        """The price of ``model`` in effect at ``at`` (epoch seconds; default now), or None if the
        catalog has none. Before a dated change the price it replaced applies."""
        name = model if model in self._prices else strip_provider_prefix(model)
        price = self._prices.get(name)
        if price is None or price.effective_from is None:
            return price
        when = time.time() if at is None else at
        if when >= price.effective_from_ts:
            return price
        for older in reversed(self._earlier.get(name, ())):
            if when >= older.effective_from_ts:
                return older
        return price  # before every known price: the oldest one we have is the best guess

    def history(self, model: str) -> list[ModelPrice]:
        """Every price of ``model`` the catalog knows, oldest first."""
        name = model if model in self._prices else strip_provider_prefix(model)
        current = self._prices.get(name)
        return [*self._earlier.get(name, ()), *([current] if current is not None else [])]

    def names(self) -> list[str]:
        """Every model name in the catalog, sorted."""
        return sorted(self._prices)

    def prices(self) -> list[ModelPrice]:
        """Every model's price, sorted by name."""
        return [self._prices[name] for name in self.names()]

    def merged(self, override: PriceCatalog) -> PriceCatalog:
        """A catalog with this one's prices, replaced or extended model by model by ``override``.

        An override with an ``effective_from`` date keeps the price it replaces for earlier calls."""
        earlier = {**self._earlier, **override._earlier}
        for name, price in override._prices.items():
            replaced = self._prices.get(name)
            if price.effective_from is not None and replaced is not None:
                if replaced.effective_from_ts >= price.effective_from_ts:
                    raise PricingError(
                        f"model {name!r}: the price effective {price.effective_from} is not later than the one "
                        f"it replaces ({replaced.effective_from}); list dated prices oldest first"
                    )
                earlier[name] = (*self._earlier.get(name, ()), replaced)
        return PriceCatalog({**self._prices, **override._prices}, earlier)

    @classmethod
    def load_file(cls, path: str | PathLike[str], *, base: PriceCatalog | None = None) -> PriceCatalog:
        """Prices from a file in our schema or LiteLLM's format (detected), laid over ``base``.

        ``base`` defaults to the bundled catalog; pass ``PriceCatalog()`` for the file's prices alone.
        Raises PricingError naming the file and what is wrong with it.
        """
        data = _read_json(Path(path))
        if looks_like_litellm(data):
            prices = prices_from_litellm(data, file=str(path))
        else:
            prices = prices_from_our_schema(data, file=str(path))
        return _over(base, prices)

    @classmethod
    def load_litellm(cls, path: str | PathLike[str], *, base: PriceCatalog | None = None) -> PriceCatalog:
        """Chat-model prices from a LiteLLM ``model_prices_and_context_window.json``, over ``base``."""
        prices = prices_from_litellm(_read_json(Path(path)), file=str(path))
        return _over(base, prices)

    def with_files(self, paths: Iterable[str | PathLike[str]]) -> PriceCatalog:
        """This catalog overridden by each price file in turn (for config ``pricing.files``)."""
        catalog = self
        for path in paths:
            catalog = PriceCatalog.load_file(path, base=catalog)
        return catalog

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.find(model) is not None

    def __len__(self) -> int:
        return len(self._prices)

    def __repr__(self) -> str:
        return f"PriceCatalog({len(self._prices)} models)"

    def _unknown_message(self, model: str) -> str:
        close = difflib.get_close_matches(strip_provider_prefix(model), self._prices, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(n) for n in close)}?" if close else ""
        return (
            f"no price for model {model!r}.{hint} To price it, add it to a price file (our schema or "
            f"LiteLLM's) listed in config `pricing.files`, or load one with PriceCatalog.load_file(path)."
        )


@cache
def default_catalog() -> PriceCatalog:
    """The bundled catalog, read once per process."""
    source = resources.files("inferopt.pricing").joinpath(BUNDLED_CATALOG)
    name = f"inferopt/pricing/{BUNDLED_CATALOG}"
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PricingError(f"{name}: cannot read the bundled price catalog: {exc}") from exc
    return PriceCatalog(prices_from_our_schema(data, file=name))


def strip_provider_prefix(model: str) -> str:
    """``model`` without a leading ``openai/``, ``anthropic/`` or ``gemini/``."""
    for prefix in PROVIDER_PREFIXES:
        if model.startswith(prefix):
            return model[len(prefix) :]
    return model


def prices_from_our_schema(data: Mapping[str, Any], *, file: str) -> dict[str, ModelPrice]:
    """Prices from a parsed file in our catalog schema. ``file`` names the source in errors."""
    if "models" not in data and "unit" not in data:
        raise PricingError(
            f"{file}: not a price file: expected our schema "
            f'({{"currency": "USD", "unit": "{UNIT}", "models": {{...}}}}) or LiteLLM\'s format '
            f"(model name -> {{input_cost_per_token, output_cost_per_token, ...}})"
        )
    # A per-token file read as per-1M would price everything a million times too low.
    for key, expected in (("unit", UNIT), ("currency", CURRENCY)):
        if data.get(key) != expected:
            raise PricingError(f"{file}: {key!r} must be {expected!r}, got {data.get(key)!r}")
    models = data.get("models")
    if not isinstance(models, Mapping):
        raise PricingError(f"{file}: 'models' must be an object of model name -> prices")
    prices: dict[str, ModelPrice] = {}
    for key, entry in models.items():
        name = strip_provider_prefix(key)
        if name in prices:
            raise PricingError(f"{file}: model {name!r} is listed twice (as {key!r} and without prefix)")
        prices[name] = _model_price(name, entry, file=file)
    return prices


def _model_price(name: str, entry: Any, *, file: str) -> ModelPrice:
    where = f"{file}: model {name!r}"
    if not isinstance(entry, Mapping):
        raise PricingError(f"{where}: must be an object, got {type(entry).__name__}")
    unknown = sorted(set(entry) - _MODEL_FIELDS)
    if unknown:
        raise PricingError(f"{where}: unknown field(s) {unknown}; known fields: {sorted(_MODEL_FIELDS)}")
    missing = [field for field in _REQUIRED_FIELDS if entry.get(field) is None]
    if missing:
        raise PricingError(f"{where}: missing required field(s) {missing}")
    if not isinstance(entry["provider"], str):
        raise PricingError(f"{where}: 'provider' must be a string")
    values: dict[str, Any] = {field: _price(entry, field, where) for field in PRICE_FIELDS}
    values.update({field: _limit(entry, field, where) for field in LIMIT_FIELDS})
    discount = entry.get("batch_cache_discount")
    if discount is not None and not isinstance(discount, bool):
        raise PricingError(f"{where}: 'batch_cache_discount' must be true, false or null")
    derived = entry.get("derived", [])
    if not isinstance(derived, list) or not all(isinstance(f, str) for f in derived):
        raise PricingError(f"{where}: 'derived' must be a list of field names")
    effective = entry.get("effective_from")
    if effective is not None and (not isinstance(effective, str) or not _DATE.match(effective)):
        raise PricingError(f"{where}: 'effective_from' must be a UTC date as YYYY-MM-DD, got {effective!r}")
    return ModelPrice(
        name=name,
        provider=entry["provider"],
        batch_cache_discount=discount,
        derived=tuple(derived),
        effective_from=effective,
        **values,
    )


def _price(entry: Mapping[str, Any], field: str, where: str) -> float | None:
    value = entry.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PricingError(f"{where}: {field!r} must be a non-negative number (USD per 1M tokens) or null")
    return float(value)


def _limit(entry: Mapping[str, Any], field: str, where: str) -> int | None:
    value = entry.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PricingError(f"{where}: {field!r} must be a positive whole number of tokens or null")
    return value


def _read_json(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PricingError(f"{path}: cannot read price file: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise PricingError(f"{path}: not valid JSON: {exc.msg} at {where}") from exc
    if not isinstance(data, dict):
        raise PricingError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    return data


def _over(base: PriceCatalog | None, prices: Mapping[str, ModelPrice]) -> PriceCatalog:
    return (default_catalog() if base is None else base).merged(PriceCatalog(prices))
