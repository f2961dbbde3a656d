"""Options from a table: a CSV or JSONL file with one option per row.

The usual columns are ``name``, ``latency_p95`` (seconds), ``cost_per_1k`` (USD per 1,000
requests) and ``quality`` (0..1); other names are mapped with ``rename`` (for example
``{"p95_s": "latency_p95"}``). Every numeric column becomes a value an objective can use; other
columns are kept as details.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inferopt.errors import ConfigError
from inferopt.tradeoff.pareto import Option


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().lstrip("$"))
        except ValueError:
            return None
    return None


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ConfigError("options file not found; pass an existing CSV or JSONL file", file=str(path))
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"line {number} is not JSON: {exc.msg}", file=str(path)) from None
            if not isinstance(row, dict):
                raise ConfigError(f"line {number} must be a JSON object, one option per line", file=str(path))
            rows.append(row)
        return rows
    return list(csv.DictReader(text.splitlines()))


def options_from_rows(
    rows: list[dict[str, Any]], *, name_column: str = "name", rename: Mapping[str, str] | None = None, source: str = ""
) -> list[Option]:
    """Options from already-parsed rows (see the module docstring for the columns)."""
    rename = dict(rename or {})
    options = []
    for number, row in enumerate(rows, start=1):
        row = {rename.get(str(k).strip(), str(k).strip()): v for k, v in row.items() if k is not None}
        if name_column not in row:
            raise ConfigError(
                f"row {number} has no {name_column!r} column (columns: {', '.join(sorted(row))}); "
                "add one or say which column names the option",
                file=source or None,
            )
        values: dict[str, float] = {}
        details: dict[str, Any] = {}
        for key, raw in row.items():
            number_value = _number(raw)
            if key != name_column and number_value is not None:
                values[key] = number_value
            elif key != name_column:
                details[key] = raw
        options.append(Option(str(row[name_column]).strip(), values, details))
    return options


def load_options(
    path: str | Path, *, name_column: str = "name", rename: Mapping[str, str] | None = None
) -> list[Option]:
    """Read options from a CSV or JSONL file."""
    file = Path(path)
    return options_from_rows(_rows(file), name_column=name_column, rename=rename, source=str(file))
