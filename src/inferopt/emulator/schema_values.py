"""A JSON value valid against a JSON Schema, drawn deterministically: the emulator's tool arguments
and structured outputs.

Covers what function parameters and ``response_format: json_schema`` use in practice (and what
OpenAI's strict mode allows): ``type`` (one or a list), ``object`` with ``properties`` (every one is
filled, so strict mode's all-required holds), ``array`` with ``items`` and ``minItems``/``maxItems``,
``enum``, ``const``, ``anyOf``/``oneOf``/``allOf``, ``$ref`` into ``$defs``/``definitions``, numbers
within ``minimum``/``maximum`` (and their exclusive forms), strings within ``minLength``/``maxLength``
with a few common ``format`` values. Unknown keywords are ignored; ``pattern`` is not honoured.
"""

from __future__ import annotations

import random
from typing import Any

_WORDS = ("alpha", "blue", "river", "stone", "quick", "north", "cedar", "lamp", "echo", "maple", "orbit", "delta")
_FORMATS = {
    "date": "2026-01-15",
    "date-time": "2026-01-15T09:30:00Z",
    "time": "09:30:00",
    "email": "user@example.com",
    "uri": "https://example.com/item",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
}
_MAX_DEPTH = 8


def schema_value(schema: Any, rng: random.Random, hint: str = "") -> Any:
    """A value valid against ``schema``; ``hint`` (the user's words) fills free strings when given."""
    return _Drawer(schema if isinstance(schema, dict) else {}, rng, hint).value(schema, 0)


class _Drawer:
    def __init__(self, root: dict[str, Any], rng: random.Random, hint: str) -> None:
        self.root = root
        self.rng = rng
        self.hint_words = [w for w in hint.split() if w.isalnum()][:6]

    def _resolve(self, ref: str) -> Any:
        node: Any = self.root
        for part in ref.lstrip("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node

    def value(self, schema: Any, depth: int) -> Any:
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return None if depth > _MAX_DEPTH else "value"
        if "$ref" in schema:
            return self.value(self._resolve(str(schema["$ref"])), depth + 1)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][self.rng.randrange(len(schema["enum"]))]
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                typed = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
                return self.value((typed or options)[0], depth + 1)
        if isinstance(schema.get("allOf"), list):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                part = self._resolve(part["$ref"]) if isinstance(part, dict) and "$ref" in part else part
                if isinstance(part, dict):
                    merged = {
                        **merged,
                        **part,
                        "properties": {**merged.get("properties", {}), **part.get("properties", {})},
                    }
            return self.value(merged, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        return self._typed(str(kind), schema, depth)

    def _typed(self, kind: str, schema: dict[str, Any], depth: int) -> Any:
        if kind == "object":
            properties = schema.get("properties")
            if not isinstance(properties, dict):
                return {}
            return {name: self.value(sub, depth + 1) for name, sub in properties.items()}
        if kind == "array":
            lo = int(schema.get("minItems", 1))
            hi = max(lo, int(schema.get("maxItems", max(lo, 3))))
            n = self.rng.randint(lo, min(hi, lo + 2))
            return [self.value(schema.get("items", {}), depth + 1) for _ in range(n)]
        if kind in ("integer", "number"):
            return self._number(kind, schema)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self._string(schema)

    def _number(self, kind: str, schema: dict[str, Any]) -> int | float:
        lo = float(schema.get("minimum", schema.get("exclusiveMinimum", 0)))
        hi = float(schema.get("maximum", schema.get("exclusiveMaximum", max(100, lo + 100))))
        if kind == "integer":
            low = int(lo) + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
            high = int(hi) - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
            return self.rng.randint(low, max(low, high))
        value = lo + (hi - lo) * (0.1 + 0.8 * self.rng.random())
        return round(value, 2) if round(value, 2) not in (lo, hi) else value

    def _string(self, schema: dict[str, Any]) -> str:
        if schema.get("format") in _FORMATS:
            return _FORMATS[str(schema["format"])]
        words = self.hint_words or [_WORDS[self.rng.randrange(len(_WORDS))] for _ in range(2)]
        text = " ".join(words[: self.rng.randint(1, len(words))])
        lo, hi = int(schema.get("minLength", 0)), schema.get("maxLength")
        while len(text) < lo:
            text += " " + _WORDS[self.rng.randrange(len(_WORDS))]
        return text[: int(hi)] if hi is not None else text
