"""The official OpenAI spec (``../shared/reference/openai-openapi.json``) as a JSON-schema validator.

The spec still writes OpenAPI 3.0's ``nullable: true``; it is translated to a null type here.
Tests that use it skip, saying why, when the spec is not beside the repo (a user's fresh clone).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

SPEC = Path(__file__).resolve().parents[3] / "shared" / "reference" / "openai-openapi.json"


def _null_types(node: Any) -> Any:
    if isinstance(node, list):
        return [_null_types(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _null_types(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def _components() -> dict[str, Any]:
    return _null_types(json.loads(SPEC.read_text(encoding="utf-8"))["components"])


def _validate(payload: Any, schema_name: str) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``payload`` is a valid ``schema_name`` of the spec."""
    if not SPEC.exists():
        pytest.skip(f"the official OpenAI spec is not at {SPEC} (it comes with ../shared)")
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema not installed (pip install -e '.[dev]')")
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": _components()}
    jsonschema.Draft202012Validator(root).validate(payload)


@pytest.fixture
def validate() -> Any:
    """``validate(payload, schema_name)``: raises unless the payload is valid against the spec."""
    return _validate
