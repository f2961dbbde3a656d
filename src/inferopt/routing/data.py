"""Recorded model outcomes: which models answered which prompts correctly, at what cost.

Two public formats are read (both as kept under ``../shared/data``):

- **RouterBench** (Martian, arXiv 2403.12031): one row per prompt; ``prompt`` is the repr of a
  Python list of strings; a column named exactly ``<model>`` holds 0/1 correctness and
  ``<model>|total_cost`` the USD cost of that answer; ``eval_name`` names the benchmark.
- **RouteLLM** MMLU (lm-sys/RouteLLM, ``routellm/evals/mmlu``): one CSV per subject with ``prompt``
  and one boolean column per model. There is no per-answer cost, so a cost per query comes from the
  published blended price per million tokens times the prompt's estimated token count (see
  :data:`ROUTELLM_PRICES`); prompts listed in ``mmlu_contaminated_prompts.jsonl`` are dropped.
- **RouteLLM** MT-Bench (``routellm/evals/mt_bench``): GPT-4 judge scores per model, question and
  turn; see ``mt_bench.py`` for how they become quality and cost.

Everything lands in one :class:`Outcomes` table; routers and metrics never see the file format.
"""

from __future__ import annotations

import ast
import csv
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from inferopt.errors import InvalidArgumentError, OutcomeDataError

COST_SUFFIX = "|total_cost"
RESPONSE_SUFFIX = "|model_response"
MMLU_WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
MMLU_STRONG = "gpt-4-1106-preview"
# Published blended prices (USD per million tokens) that RouteLLM uses for its cost figures.
ROUTELLM_PRICES = {MMLU_STRONG: 24.7, MMLU_WEAK: 0.24}


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Rows of recorded outcomes: ``correct[i][j]`` and ``cost[i][j]`` of model ``models[j]`` on ``prompts[i]``.

    ``groups[i]`` is where row ``i`` came from (RouterBench ``eval_name`` or the MMLU subject): it is
    metadata for reporting, not a routing feature (a router sees only the prompt text).
    ``answers[i][j]`` is the recorded answer text, when the data has it and it was asked for
    (cascade checks such as agreement need it); otherwise ``answers`` is empty.
    """

    prompts: tuple[str, ...]
    models: tuple[str, ...]
    correct: tuple[tuple[float, ...], ...]
    cost: tuple[tuple[float, ...], ...]
    groups: tuple[str, ...]
    answers: tuple[tuple[str, ...], ...] = ()

    def __len__(self) -> int:
        return len(self.prompts)

    def subset(self, rows: Sequence[int]) -> Outcomes:
        """The given rows, in the given order."""
        return Outcomes(
            tuple(self.prompts[i] for i in rows),
            self.models,
            tuple(self.correct[i] for i in rows),
            tuple(self.cost[i] for i in rows),
            tuple(self.groups[i] for i in rows),
            tuple(self.answers[i] for i in rows) if self.answers else (),
        )

    def with_models(self, models: Sequence[str]) -> Outcomes:
        """Only the given models' columns (in that order)."""
        missing = [m for m in models if m not in self.models]
        if missing:
            raise OutcomeDataError(f"models {missing} are not in the data; it has {list(self.models)}")
        idx = [self.models.index(m) for m in models]
        return Outcomes(
            self.prompts,
            tuple(models),
            tuple(tuple(row[j] for j in idx) for row in self.correct),
            tuple(tuple(row[j] for j in idx) for row in self.cost),
            self.groups,
            tuple(tuple(row[j] for j in idx) for row in self.answers),
        )

    def split(self, train_fraction: float, seed: int = 0) -> tuple[Outcomes, Outcomes]:
        """A seeded split into (train, test) with disjoint prompts, stratified by group.

        Rows with the same prompt text (MMLU repeats a few questions) always land on the same side,
        so no evaluation prompt is ever seen in training. ``1.0`` puts every row in train (to evaluate
        on another file), ``0.0`` every row in test.
        """
        if not 0.0 <= train_fraction <= 1.0:
            raise InvalidArgumentError(
                f"train_fraction must be between 0 and 1 (got {train_fraction}); 1.0 trains on every row"
            )
        rng = random.Random(seed)
        rows_of: dict[str, list[int]] = {}
        by_group: dict[str, list[str]] = {}
        for i, (prompt, group) in enumerate(zip(self.prompts, self.groups, strict=True)):
            key = prompt.strip()
            if key not in rows_of:
                by_group.setdefault(group, []).append(key)
            rows_of.setdefault(key, []).append(i)
        train: list[int] = []
        test: list[int] = []
        for group in sorted(by_group):
            keys = by_group[group]
            rng.shuffle(keys)
            cut = round(len(keys) * train_fraction)
            train += [i for key in keys[:cut] for i in rows_of[key]]
            test += [i for key in keys[cut:] for i in rows_of[key]]
        return self.subset(sorted(train)), self.subset(sorted(test))

    def mean_accuracy(self, model: str) -> float:
        j = self.models.index(model)
        return sum(r[j] for r in self.correct) / len(self)

    def mean_cost(self, model: str) -> float:
        j = self.models.index(model)
        return sum(r[j] for r in self.cost) / len(self)


def prompt_text(cell: str) -> str:
    """The prompt as a request carries it: a list-repr cell's strings joined by newlines.

    A few RouterBench rows hold the same string twice; it is sent once (as the emulator indexes it).
    """
    cell = cell.strip()
    if cell.startswith("[") and cell.endswith("]"):
        try:
            parts = ast.literal_eval(cell)
        except (ValueError, SyntaxError):
            return cell
        if isinstance(parts, list):
            strings = [str(p) for p in parts]
            if len(strings) > 1 and len(set(strings)) == 1:
                return strings[0]
            return "\n".join(strings)
    return cell


def read_routerbench(paths: Iterable[str | Path], *, with_answers: bool = False) -> Outcomes:
    """Rows of one or more RouterBench CSV files (or folders of them), models in column order.

    ``with_answers`` also keeps each model's recorded answer text (for offline cascade checks).
    """
    csv.field_size_limit(10**9)  # prompts are long; the default limit is 128 KiB
    prompts: list[str] = []
    correct: list[tuple[float, ...]] = []
    cost: list[tuple[float, ...]] = []
    groups: list[str] = []
    answers: list[tuple[str, ...]] = []
    models: tuple[str, ...] | None = None
    for path in _csv_files(paths):
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            file_models = tuple(c[: -len(COST_SUFFIX)] for c in columns if c.endswith(COST_SUFFIX))
            if "prompt" not in columns or not file_models:
                raise OutcomeDataError(
                    f"{path}: not a RouterBench CSV (needs a 'prompt' column and '<model>|total_cost' columns)"
                )
            if models is None:
                models = file_models
            elif set(models) != set(file_models):
                raise OutcomeDataError(f"{path}: its models differ from the first file's; evaluate files separately")
            for line, row in enumerate(reader, 2):
                prompts.append(prompt_text(row["prompt"] or ""))
                correct.append(tuple(_number(row.get(m), path, line, m) for m in models))
                cost.append(tuple(_number(row.get(m + COST_SUFFIX), path, line, m + COST_SUFFIX) for m in models))
                groups.append(row.get("eval_name") or path.stem)
                if with_answers:
                    answers.append(tuple(prompt_text(row.get(m + RESPONSE_SUFFIX) or "") for m in models))
    if models is None or not prompts:
        raise OutcomeDataError(f"no RouterBench rows found in {list(map(str, paths))}")
    return Outcomes(tuple(prompts), models, tuple(correct), tuple(cost), tuple(groups), tuple(answers))


def read_routellm_mmlu(folder: str | Path, contaminated: str | Path | None = None) -> Outcomes:
    """RouteLLM's MMLU outcomes (every ``mmlu_*.csv`` in ``folder``), contaminated prompts dropped.

    ``contaminated`` defaults to ``mmlu_contaminated_prompts.jsonl`` next to ``folder``, when present.
    Costs: the published blended price per million tokens times the prompt's tokens (4 characters
    per token; answers are one letter), so the strong/weak cost ratio is the published one (~103x).
    """
    csv.field_size_limit(10**9)
    folder = Path(folder)
    files = sorted(folder.glob("mmlu_*.csv"))
    if not files:
        raise OutcomeDataError(f"{folder}: no mmlu_*.csv files (expected RouteLLM's routellm/evals/mmlu layout)")
    if contaminated is None and (folder.parent / "mmlu_contaminated_prompts.jsonl").exists():
        contaminated = folder.parent / "mmlu_contaminated_prompts.jsonl"
    dropped = contaminated_prompts(Path(contaminated)) if contaminated else set()
    models = (MMLU_WEAK, MMLU_STRONG)
    prompts: list[str] = []
    correct: list[tuple[float, ...]] = []
    cost: list[tuple[float, ...]] = []
    groups: list[str] = []
    for path in files:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in ("prompt", *models) if c not in (reader.fieldnames or [])]
            if missing:
                raise OutcomeDataError(
                    f"{path}: no column {missing[0]!r} (RouteLLM's MMLU files have prompt, {', '.join(models)})"
                )
            for row in reader:
                prompt = row["prompt"]
                if prompt in dropped:
                    continue
                tokens = max(1, len(prompt) // 4) + 1
                prompts.append(prompt)
                correct.append(tuple(1.0 if row[m] == "True" else 0.0 for m in models))
                cost.append(tuple(ROUTELLM_PRICES[m] * tokens / 1e6 for m in models))
                groups.append(path.stem.removeprefix("mmlu_"))
    return Outcomes(tuple(prompts), models, tuple(correct), tuple(cost), tuple(groups))


def contaminated_prompts(path: Path) -> set[str]:
    """The ``eval_prompt`` of every line of a RouteLLM ``contaminated_prompts.jsonl`` (prompts of the
    benchmark that leaked into RouteLLM's training data, ``train_prompt``)."""
    out: set[str] = set()
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.add(json.loads(line)["eval_prompt"])
            except (json.JSONDecodeError, KeyError, TypeError):
                raise OutcomeDataError(
                    f"{path}: line {number} has no 'eval_prompt' (expected RouteLLM's contaminated-prompt list)"
                ) from None
    return out


def _csv_files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        out += sorted(path.glob("*.csv")) if path.is_dir() else [path]
    return out


def _number(cell: str | None, path: Path, line: int, column: str) -> float:
    if cell is None or cell.strip() in ("", "nan"):
        return 0.0  # RouterBench leaves a few cells empty: no answer recorded is not a correct answer
    try:
        return float(cell)
    except ValueError:
        raise OutcomeDataError(
            f"{path}: row {line}, column {column!r} holds {cell[:40]!r}, expected a number"
        ) from None
