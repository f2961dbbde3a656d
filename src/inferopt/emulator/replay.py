"""Recorded answers of real models, served when a request's prompt is in a replay dataset.

The format is RouterBench's (Martian, arXiv 2403.12031), as kept under ``../shared/data``:
one row per prompt; ``prompt`` is the repr of a Python list of strings; ``<model>|model_response``
holds the recorded answer (also a list repr); a column named exactly ``<model>`` holds that
answer's 0/1 correctness. Files are read once, when the emulator starts.
"""

from __future__ import annotations

import ast
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

RESPONSE_SUFFIX = "|model_response"


@dataclass(frozen=True, slots=True)
class RecordedAnswer:
    """One model's recorded answer to one prompt, with its correctness label when there is one."""

    text: str
    correct: int | None


class ReplayIndex:
    """Prompt text (stripped) -> model name -> recorded answer."""

    def __init__(self) -> None:
        self._answers: dict[str, dict[str, RecordedAnswer]] = {}

    def __len__(self) -> int:
        return len(self._answers)

    def lookup(self, prompt: str, model: str) -> RecordedAnswer | None:
        """The recorded answer of ``model`` to ``prompt`` (compared after stripping), if any."""
        by_model = self._answers.get(prompt.strip())
        return None if by_model is None else by_model.get(model)

    def models(self) -> set[str]:
        return {m for by_model in self._answers.values() for m in by_model}

    def add(self, prompt: str, model: str, answer: RecordedAnswer) -> None:
        # The first recording of a (prompt, model) wins, so file order decides, not chance.
        self._answers.setdefault(prompt.strip(), {}).setdefault(model, answer)

    def load_csv(self, path: Path) -> int:
        """Add every recorded answer of one RouterBench CSV; returns how many rows were read."""
        csv.field_size_limit(10**9)  # prompts and answers are long; the default limit is 128 KiB
        rows = 0
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            models = [c[: -len(RESPONSE_SUFFIX)] for c in columns if c.endswith(RESPONSE_SUFFIX)]
            if "prompt" not in columns or not models:
                return 0
            for row in reader:
                rows += 1
                for prompt in _prompt_keys(row["prompt"]):
                    for model in models:
                        text = _list_text(row.get(model + RESPONSE_SUFFIX) or "")
                        if text:
                            self.add(prompt, model, RecordedAnswer(text, _label(row.get(model))))
        return rows


def load_replay(paths: Iterable[str | Path]) -> ReplayIndex:
    """An index over the given CSV files and folders (every ``*.csv`` inside, sorted)."""
    index = ReplayIndex()
    for path in _csv_files(paths):
        index.load_csv(path)
    return index


def _csv_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(path.glob("*.csv"))
        else:
            yield path


def _parse_list(cell: str) -> list[str] | None:
    """The strings of a list-repr cell ("['a', 'b']"), or None when the cell is not one."""
    if not (cell.startswith("[") and cell.endswith("]")):
        return None
    try:
        parts = ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        return None
    return [str(p) for p in parts] if isinstance(parts, list) else None


def _list_text(cell: str) -> str:
    """The text of a list-repr cell (parts joined by newlines); a plain string is kept as is."""
    cell = cell.strip()
    if not cell or cell == "nan":
        return ""
    parts = _parse_list(cell)
    return cell if parts is None else "\n".join(parts)


def _prompt_keys(cell: str) -> list[str]:
    """The prompt as a request would carry it. A few RouterBench rows hold the same string twice
    in the list; a client sends that string once, so it is indexed too."""
    cell = cell.strip()
    parts = _parse_list(cell)
    if parts is None:
        return [cell] if cell else []
    keys = ["\n".join(parts)]
    if len(parts) > 1 and len(set(parts)) == 1:
        keys.append(parts[0])
    return keys


def _label(cell: str | None) -> int | None:
    try:
        return int(float(cell)) if cell not in (None, "", "nan") else None
    except ValueError:
        return None
