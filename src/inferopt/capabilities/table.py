"""What each model accepts: one row per model, from the bundled families file and the price catalog.

``capabilities-2026-11.json`` (package data; its ``_about`` names the sources) lists model
families by name pattern; the first family matching a model id (provider prefix and date suffix
removed) applies over ``defaults``, and the catalog's context window and output limit win where it
has them. A model no family names gets the defaults: everything is sent as asked, so an unknown
OpenAI-compatible server is never second-guessed.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import asdict, dataclass, fields, replace
from functools import cache
from importlib import resources
from typing import Any, Literal

from inferopt.errors import ConfigError
from inferopt.pricing.catalog import PriceCatalog

Thinking = Literal["none", "effort", "budget"]
_DATE_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2})$")
FILE = "capabilities-2026-11.json"


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    """One model's row. ``thinking``: ``effort`` (``reasoning_effort`` / a thinking level),
    ``budget`` (a token budget: Anthropic ``thinking``, Gemini ``thinkingBudget``) or ``none``.
    ``sampling_exclusive``: temperature and top_p may not both be set. ``family`` is the pattern
    that matched (``None``: the defaults)."""

    model: str
    provider: str
    temperature: bool
    top_p: bool
    sampling_exclusive: bool
    max_tokens_field: str
    n: bool
    logprobs: bool
    tools: bool
    parallel_tool_calls: bool
    json_schema: bool
    json_object: bool
    thinking: Thinking
    images: bool
    seed: bool
    prompt_cache_min_tokens: int | None
    context_window: int | None
    max_output_tokens: int | None
    family: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS = {f.name for f in fields(ModelCapabilities)} - {"model", "family"}


class CapabilityTable:
    """Families in order (first match wins) over defaults, with catalog limits on top."""

    def __init__(
        self,
        families: list[tuple[tuple[str, ...], dict[str, Any]]],
        defaults: dict[str, Any],
        catalog: PriceCatalog | None = None,
    ) -> None:
        missing = _FIELDS - set(defaults)
        if missing:
            raise ConfigError(f"capability defaults lack {sorted(missing)}")
        self._families = families
        self._defaults = defaults
        self._catalog = catalog
        self._rows: dict[str, ModelCapabilities] = {}

    def with_catalog(self, catalog: PriceCatalog) -> CapabilityTable:
        return CapabilityTable(self._families, self._defaults, catalog)

    def get(self, model: str) -> ModelCapabilities:
        row = self._rows.get(model)
        if row is None:
            row = self._row(model)
            if len(self._rows) < 4096:
                self._rows[model] = row
        return row

    def _row(self, model: str) -> ModelCapabilities:
        name = _DATE_SUFFIX.sub("", model.rsplit("/", 1)[-1])
        values = dict(self._defaults)
        family = None
        for patterns, overrides in self._families:
            hit = next((p for p in patterns if fnmatch.fnmatchcase(name, p)), None)
            if hit is not None:
                values.update(overrides)
                family = hit
                break
        row = ModelCapabilities(model=model, family=family, **values)
        price = self._catalog.find(model) if self._catalog is not None else None
        if price is not None:
            row = replace(
                row,
                context_window=price.context_window or row.context_window,
                max_output_tokens=price.max_output_tokens or row.max_output_tokens,
                provider=row.provider if row.provider != "unknown" else price.provider,
            )
        return row


def table_from_data(data: dict[str, Any], *, source: str = FILE) -> CapabilityTable:
    """A table from the families file's JSON shape (``defaults``, ``families: [{match, ...}]``)."""
    families: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    for i, entry in enumerate(data.get("families", [])):
        match = entry.get("match")
        unknown = set(entry) - _FIELDS - {"match"}
        if not isinstance(match, list) or not match or unknown:
            raise ConfigError(
                f"{source}: families[{i}] needs 'match' (a list of name patterns)"
                + (f" and has unknown keys {sorted(unknown)}" if unknown else "")
            )
        families.append((tuple(match), {k: v for k, v in entry.items() if k != "match"}))
    return CapabilityTable(families, dict(data.get("defaults", {})))


@cache
def bundled_table() -> CapabilityTable:
    text = resources.files("inferopt.capabilities").joinpath(FILE).read_text(encoding="utf-8")
    return table_from_data(json.loads(text))


def default_table(catalog: PriceCatalog | None = None) -> CapabilityTable:
    """The bundled families, with ``catalog``'s limits (the default catalog's when none is given)."""
    from inferopt.pricing.catalog import default_catalog

    return bundled_table().with_catalog(catalog or default_catalog())
