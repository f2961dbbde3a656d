"""The documented generic outcomes format: one line per (prompt, model) answer, JSONL or CSV.

Fields (CSV header or JSON keys):

- ``prompt`` (text), ``model`` (name), ``score`` (the answer's quality in [0, 1]: 1/0 for
  correct/wrong, or a graded score such as a judge's 1-10 divided by 10), ``cost`` (USD for that
  answer, >= 0);
- optional ``group`` (where the prompt came from, for stratified splits and reports) and
  ``answer`` (the answer text, for answer-aware cascades).

Every prompt must have exactly one line per model of the file: rows are pivoted into one
:class:`Outcomes` row per prompt, models in order of first appearance. A bad line gets a one-line
error naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from inferopt.errors import OutcomeDataError
from inferopt.routing.data import Outcomes

REQUIRED = ("prompt", "model", "score", "cost")


def is_generic(path: Path) -> bool:
    """A ``.jsonl`` file, or a CSV whose header has the generic format's fields."""
    if path.suffix == ".jsonl":
        return True
    if path.suffix != ".csv" or not path.is_file():
        return False
    with path.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), [])
    return set(REQUIRED) <= set(header)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8") as f:
        if path.suffix == ".jsonl":
            for line, text in enumerate(f, 1):
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise OutcomeDataError(f"{path}: line {line} is not JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise OutcomeDataError(f"{path}: line {line} is not a JSON object with {', '.join(REQUIRED)}")
                yield line, record
        else:
            reader = csv.DictReader(f)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise OutcomeDataError(
                    f"{path}: no column {missing[0]!r} (the generic format needs {', '.join(REQUIRED)})"
                )
            for line, row in enumerate(reader, 2):
                yield line, dict(row)


def _number(record: dict[str, Any], field: str, path: Path, line: int, low: float, high: float) -> float:
    raw = record.get(field)
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if not low <= value <= high:
        bounds = f"between {low:g} and {high:g}" if high < math.inf else f">= {low:g}"
        raise OutcomeDataError(f"{path}: line {line}, field {field!r} is {raw!r}; expected a number {bounds}")
    return value


def read_generic_outcomes(path: str | Path, *, with_answers: bool = False) -> Outcomes:
    """Rows of a generic JSONL/CSV outcomes file (see the module docstring)."""
    csv.field_size_limit(10**9)
    path = Path(path)
    models: dict[str, int] = {}
    by_prompt: dict[str, dict[str, tuple[float, float, str]]] = {}
    first_line: dict[str, int] = {}
    groups: dict[str, str] = {}
    for line, record in _records(path):
        for field in ("prompt", "model"):
            if not isinstance(record.get(field), str) or not record[field].strip():
                raise OutcomeDataError(f"{path}: line {line}, field {field!r} is missing or empty")
        prompt, model = record["prompt"], record["model"].strip()
        score = _number(record, "score", path, line, 0.0, 1.0)
        cost = _number(record, "cost", path, line, 0.0, math.inf)
        models.setdefault(model, len(models))
        answers = by_prompt.setdefault(prompt, {})
        if model in answers:
            raise OutcomeDataError(
                f"{path}: line {line} repeats model {model!r} for a prompt first seen on line {first_line[prompt]}"
            )
        answers[model] = (score, cost, str(record.get("answer") or ""))
        first_line.setdefault(prompt, line)
        groups.setdefault(prompt, str(record.get("group") or path.stem))
    if len(models) < 2 or not by_prompt:
        raise OutcomeDataError(f"{path}: needs answers of at least two models (found {list(models)})")
    names = tuple(models)
    for prompt, answers in by_prompt.items():
        if len(answers) != len(names):
            lacking = [m for m in names if m not in answers]
            raise OutcomeDataError(
                f"{path}: the prompt on line {first_line[prompt]} has no line for model {lacking[0]!r}; "
                "every prompt needs one line per model"
            )
    prompts = tuple(by_prompt)
    return Outcomes(
        prompts,
        names,
        tuple(tuple(by_prompt[p][m][0] for m in names) for p in prompts),
        tuple(tuple(by_prompt[p][m][1] for m in names) for p in prompts),
        tuple(groups[p] for p in prompts),
        tuple(tuple(by_prompt[p][m][2] for m in names) for p in prompts) if with_answers else (),
    )
