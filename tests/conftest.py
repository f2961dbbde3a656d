"""Shared test set-up: exact token counts when ../shared/tiktoken exists, the real-data path, and the
official OpenAI spec as a validator (``openai_spec(payload, "SchemaName")``; its OpenAPI 3.0
``nullable: true`` translated to a null type)."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO.parent / "shared").resolve()

SPEC = SHARED / "reference" / "openai-openapi.json"

if (SHARED / "tiktoken").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken"))


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never pick up a developer's inferopt.yaml or INFEROPT_CONFIG."""
    monkeypatch.delenv("INFEROPT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def _shared_data(*parts: str) -> Path:
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(
            f"real data not present at {path} (a fresh clone has no ../shared); this evaluation "
            "runs where ../shared/data exists"
        )
    return path


@pytest.fixture
def shared_data() -> object:
    """``shared_data("routerbench", "x.csv")``: a path under ../shared/data, or a clear skip."""
    return _shared_data


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
        pytest.skip(f"the official OpenAI spec is not at {SPEC} (it comes with ../shared); spec checks run where it is")
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema not installed (pip install -e '.[dev]')")
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": _components()}
    jsonschema.Draft202012Validator(root).validate(payload)


@pytest.fixture
def openai_spec() -> Any:
    """``validate(payload, schema_name)``: raises unless the payload is valid against the spec."""
    return _validate
