"""RouteLLM's MT-Bench outcomes (``routellm/evals/mt_bench``) as :class:`~inferopt.routing.data.Outcomes`.

The folder holds ``question.jsonl`` (80 two-turn questions: ``question_id``, ``category``,
``turns``), ``judgements.jsonl`` (GPT-4 as judge: a 1-10 ``score`` per ``model``, ``question_id``
and ``turn``) and ``contaminated_prompts.jsonl`` (questions that leaked into RouteLLM's training
data). This is how RouteLLM evaluates a router on it, and so how this loader lays it out:

- **One row per question.** The router sees only the first turn (RouteLLM routes on ``turns[0]``);
  the chosen model answers both turns.
- **Quality** of a model on a question = the mean of GPT-4's two judge scores (turns 1 and 2)
  divided by 10, so it lies in [0.1, 1] and a router's mean quality is RouteLLM's MT-Bench score
  / 10. It is a graded score, not a 0/1 correctness: APGR and CPT are ratios of quality gaps, so
  they come out as RouteLLM computes them. ``binarize_at`` turns it into 0/1 instead (a question
  counts as answered well when the mean score reaches that value, e.g. 8), for checks that want
  correctness labels.
- **Questions listed as contaminated are dropped** (72 of 80 remain), as RouteLLM's benchmark does.
- **Cost** = the published blended price per million tokens (GPT-4 $24.7, Mixtral $0.24) times the
  tokens of the two calls (4 characters per token): turn 1 sends question 1 and gets answer 1;
  turn 2 sends both questions and answer 1 and gets answer 2. The answers' lengths are read from the
  judge prompts, which quote them.
- ``answers[i][j]`` is model ``j``'s first-turn answer (quoted in the judge prompt).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inferopt.errors import OutcomeDataError
from inferopt.routing.data import ROUTELLM_PRICES, Outcomes

_SINGLE_ANSWER = re.compile(r"\[The Start of Assistant's Answer\]\n(.*)\n\[The End of Assistant's Answer\]", re.S)
_LAST_TURN = re.compile(r".*### Assistant A:\n(.*?)\n*<\|The End of Assistant A's Conversation with User\|>", re.S)


def is_mt_bench(folder: Path) -> bool:
    """Whether ``folder`` looks like RouteLLM's ``mt_bench`` folder."""
    return (folder / "judgements.jsonl").is_file() and (folder / "question.jsonl").is_file()


def read_mt_bench(
    folder: str | Path, *, prices: Mapping[str, float] = ROUTELLM_PRICES, binarize_at: float | None = None
) -> Outcomes:
    """The MT-Bench questions' outcomes (see the module docstring for what quality and cost mean)."""
    folder = Path(folder)
    if not is_mt_bench(folder):
        raise OutcomeDataError(f"{folder}: needs question.jsonl and judgements.jsonl (RouteLLM's evals/mt_bench)")
    questions = {}
    for line, q in enumerate(_jsonl(folder / "question.jsonl"), 1):
        if not isinstance(q, dict) or "question_id" not in q or len(q.get("turns") or []) < 2:
            raise OutcomeDataError(f"{folder / 'question.jsonl'}: question {line} needs a question_id and two turns")
        questions[q["question_id"]] = q
    dropped = set()
    if (folder / "contaminated_prompts.jsonl").is_file():
        dropped = {row["eval_prompt"] for row in _jsonl(folder / "contaminated_prompts.jsonl")}
    # (question, model) -> {turn: (score, answer text)}, GPT-4's judgements only (as RouteLLM).
    judged: dict[tuple[int, str], dict[int, tuple[float, str]]] = {}
    for line, row in enumerate(_jsonl(folder / "judgements.jsonl"), 1):
        try:
            if row.get("judge", ["gpt-4"])[0] != "gpt-4":
                continue
            answer = _quoted_answer(row["user_prompt"], int(row["turn"]))
            judged.setdefault((row["question_id"], row["model"]), {})[int(row["turn"])] = (float(row["score"]), answer)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problem = f"has no {exc}" if isinstance(exc, KeyError) else f"is unusable ({exc})"
            raise OutcomeDataError(
                f"{folder / 'judgements.jsonl'}: judgement {line} {problem}; each needs question_id, model, turn, "
                "score and user_prompt"
            ) from None
    models = tuple(sorted({model for _, model in judged}, key=lambda m: prices.get(m, 0.0)))
    unpriced = [m for m in models if m not in prices]
    if unpriced:
        raise OutcomeDataError(f"{folder}: no price for {unpriced}; pass prices={{model: USD per million tokens}}")
    rows: dict[str, list[Any]] = {"prompts": [], "correct": [], "cost": [], "groups": [], "answers": []}
    for qid, question in sorted(questions.items()):
        first, second = question["turns"][:2]
        if first in dropped or second in dropped:
            continue
        turns = [judged.get((qid, m), {}) for m in models]
        missing = [m for m, t in zip(models, turns, strict=True) if set(t) != {1, 2}]
        if missing:
            raise OutcomeDataError(f"{folder}: question {qid} lacks GPT-4 judgements of both turns for {missing}")
        quality = [(t[1][0] + t[2][0]) / 20 for t in turns]
        if binarize_at is not None:
            quality = [1.0 if q * 10 >= binarize_at else 0.0 for q in quality]
        rows["prompts"].append(first)
        rows["correct"].append(tuple(quality))
        costs = [_cost(first, second, t[1][1], t[2][1], prices[m]) for m, t in zip(models, turns, strict=True)]
        rows["cost"].append(tuple(costs))
        rows["groups"].append(question.get("category", "mt_bench"))
        rows["answers"].append(tuple(t[1][1] for t in turns))
    if not rows["prompts"]:
        raise OutcomeDataError(f"{folder}: no judged questions left")
    return Outcomes(
        tuple(rows["prompts"]),
        models,
        tuple(rows["correct"]),
        tuple(rows["cost"]),
        tuple(rows["groups"]),
        tuple(rows["answers"]),
    )


def _cost(first: str, second: str, answer1: str, answer2: str, price_per_million: float) -> float:
    turn1 = len(first) + len(answer1)
    turn2 = turn1 + len(second) + len(answer2)  # the second call re-sends the first exchange
    return price_per_million * max(1, (turn1 + turn2) // 4) / 1e6


def _quoted_answer(judge_prompt: str, turn: int) -> str:
    """The judged model's answer as the judge prompt quotes it (the last one, for turn 2)."""
    match = (_SINGLE_ANSWER if turn == 1 else _LAST_TURN).search(judge_prompt)
    return match.group(1).strip() if match else ""


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        try:
            return [json.loads(line) for line in f if line.strip()]
        except json.JSONDecodeError as exc:
            raise OutcomeDataError(f"{path}: not JSON lines ({exc})") from None
