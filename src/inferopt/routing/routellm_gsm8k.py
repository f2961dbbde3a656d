"""RouteLLM's GSM8K outcomes (``routellm/evals/gsm8k/gsm8k_responses.csv``) as :class:`Outcomes`.

The file has one row per grade-school maths question: ``prompt``, one boolean column per model
(``mixtral-8x7b-instruct-v0.1``, ``gpt-4-1106-preview``: was its final answer right) and
``<model>_response`` (the answer text). Prompts listed in ``contaminated_prompts.jsonl`` next to
the file are dropped, as RouteLLM's benchmark does. There is no recorded cost: a query costs the
published blended price per million tokens (GPT-4 $24.7, Mixtral $0.24) times the tokens of the
prompt and the model's answer (4 characters per token).
"""

from __future__ import annotations

import csv
from pathlib import Path

from inferopt.errors import OutcomeDataError
from inferopt.routing.data import ROUTELLM_PRICES, Outcomes, contaminated_prompts

RESPONSE_SUFFIX = "_response"
GSM8K_FILE = "gsm8k_responses.csv"


def _price(model: str) -> float | None:
    """The published price of ``model`` (RouteLLM's GSM8K file names Mixtral without its org, in lower case)."""
    for name, price in ROUTELLM_PRICES.items():
        if model.lower() in (name.lower(), name.lower().rsplit("/", 1)[-1]):
            return price
    return None


def is_gsm8k(path: Path) -> bool:
    """Whether ``path`` is (or is a folder holding) RouteLLM's GSM8K responses file."""
    if path.is_dir():
        return (path / GSM8K_FILE).is_file()
    if path.suffix != ".csv":
        return False
    with path.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), [])
    return "prompt" in header and any(
        c.endswith(RESPONSE_SUFFIX) and c[: -len(RESPONSE_SUFFIX)] in header for c in header
    )


def read_routellm_gsm8k(
    path: str | Path, contaminated: str | Path | None = None, *, with_answers: bool = False
) -> Outcomes:
    """Rows of a RouteLLM GSM8K responses file (or the folder holding it), contaminated prompts dropped."""
    csv.field_size_limit(10**9)
    path = Path(path)
    if path.is_dir():
        path = path / GSM8K_FILE
    if contaminated is None and (path.parent / "contaminated_prompts.jsonl").is_file():
        contaminated = path.parent / "contaminated_prompts.jsonl"
    dropped = contaminated_prompts(Path(contaminated)) if contaminated else set()
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        models = tuple(c for c in header if c != "prompt" and not c.endswith(RESPONSE_SUFFIX))
        if "prompt" not in header or len(models) < 2:
            raise OutcomeDataError(
                f"{path}: needs a 'prompt' column and a True/False column per model (RouteLLM's GSM8K)"
            )
        price = {m: p for m in models if (p := _price(m)) is not None}
        unpriced = [m for m in models if m not in price]
        if unpriced:
            raise OutcomeDataError(f"{path}: column {unpriced[0]!r} is no model with a published RouteLLM price")
        prompts: list[str] = []
        correct: list[tuple[float, ...]] = []
        cost: list[tuple[float, ...]] = []
        answers: list[tuple[str, ...]] = []
        for line, row in enumerate(reader, 2):
            if row["prompt"] in dropped:
                continue
            marks = []
            for m in models:
                cell = (row.get(m) or "").strip()
                if cell not in ("True", "False"):
                    raise OutcomeDataError(
                        f"{path}: row {line}, column {m!r} holds {cell[:20]!r}, expected True or False"
                    )
                marks.append(1.0 if cell == "True" else 0.0)
            texts = tuple(row.get(m + RESPONSE_SUFFIX) or "" for m in models)
            prompts.append(row["prompt"])
            correct.append(tuple(marks))
            tokens = [max(1, (len(row["prompt"]) + len(t)) // 4) for t in texts]
            cost.append(tuple(price[m] * n / 1e6 for m, n in zip(models, tokens, strict=True)))
            answers.append(texts)
    if not prompts:
        raise OutcomeDataError(f"{path}: no rows left after dropping contaminated prompts")
    return Outcomes(
        tuple(prompts),
        models,
        tuple(correct),
        tuple(cost),
        ("gsm8k",) * len(prompts),
        tuple(answers) if with_answers else (),
    )
