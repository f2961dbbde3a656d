"""Evaluation datasets: JSONL with expected answers, or a RouterBench-format CSV.

JSONL: one object per line with ``prompt`` (or ``messages``, OpenAI-shaped), optional ``expected``
and ``system``; any other keys are kept in ``meta`` for scorers. RouterBench (Martian, arXiv
2403.12031): ``prompt`` holds the repr of a list of strings; ``<model>|model_response`` a recorded
answer and a column named exactly ``<model>`` its 0/1 correctness, which the ``recorded`` scorer uses.
"""

from __future__ import annotations

import ast
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferopt.errors import ConfigError

RESPONSE_SUFFIX = "|model_response"


@dataclass(frozen=True, slots=True)
class Example:
    """One prompt, what a right answer looks like, and the recorded answers and labels if any."""

    id: str
    prompt: str | list[dict[str, Any]]
    expected: Any = None
    system: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    recorded: dict[str, str] = field(default_factory=dict)  # model -> recorded answer (RouterBench)
    labels: dict[str, float] = field(default_factory=dict)  # model -> recorded correctness


def load_jsonl_dataset(path: Path, limit: int | None = None) -> list[Example]:
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"line {number} is not JSON: {exc.msg}", file=str(path)) from None
        prompt = row.pop("prompt", None) or row.pop("messages", None)
        if not prompt:
            raise ConfigError(f"line {number} has no 'prompt' (or 'messages'); add one", file=str(path))
        examples.append(
            Example(
                id=str(row.pop("id", number)),
                prompt=prompt,
                expected=row.pop("expected", None),
                system=row.pop("system", None),
                meta=row,
            )
        )
        if limit is not None and len(examples) >= limit:
            break
    return examples


def _list_text(cell: str) -> str:
    cell = (cell or "").strip()
    if not cell or cell == "nan":
        return ""
    if cell.startswith("[") and cell.endswith("]"):
        try:
            parts = ast.literal_eval(cell)
        except (ValueError, SyntaxError):
            return cell
        if isinstance(parts, list):
            return "\n".join(str(p) for p in parts)
    return cell


def load_routerbench(path: Path, limit: int | None = None) -> list[Example]:
    csv.field_size_limit(10**9)  # recorded answers are long; the default limit is 128 KiB
    examples = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        models = [c[: -len(RESPONSE_SUFFIX)] for c in columns if c.endswith(RESPONSE_SUFFIX)]
        if "prompt" not in columns or not models:
            raise ConfigError(
                "not a RouterBench file: it needs a 'prompt' column and '<model>|model_response' columns",
                file=str(path),
            )
        for number, row in enumerate(reader, start=1):
            recorded = {m: _list_text(row.get(m + RESPONSE_SUFFIX, "")) for m in models}
            labels = {}
            for m in models:
                try:
                    labels[m] = float(row.get(m) or "nan")
                except ValueError:
                    continue
            examples.append(
                Example(
                    id=str(row.get("sample_id") or number),
                    prompt=_list_text(row["prompt"]),
                    meta={"eval_name": row.get("eval_name", "")},
                    recorded={m: t for m, t in recorded.items() if t},
                    labels={m: v for m, v in labels.items() if v == v},  # drop NaN
                )
            )
            if limit is not None and len(examples) >= limit:
                break
    return examples


def load_dataset(path: str | Path, format: str | None = None, limit: int | None = None) -> list[Example]:
    """Examples from ``path``; ``format`` is ``jsonl`` or ``routerbench`` (default: by extension)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError("dataset file not found; fix dataset.path", file=str(file), key="dataset.path")
    kind = format or ("routerbench" if file.suffix.lower() == ".csv" else "jsonl")
    if kind == "jsonl":
        return load_jsonl_dataset(file, limit)
    if kind == "routerbench":
        return load_routerbench(file, limit)
    raise ConfigError(f"unknown dataset format {kind!r}; use jsonl or routerbench", key="dataset.format")
