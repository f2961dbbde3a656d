"""RouteLLM's MT-Bench format: judge scores become per-question quality, routed on the first turn."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from inferopt.cli.main import cli
from inferopt.errors import OutcomeDataError
from inferopt.routing.data import MMLU_STRONG, MMLU_WEAK
from inferopt.routing.mt_bench import read_mt_bench
from inferopt.routing.outcome_files import read_outcomes

FIXTURE = Path(__file__).parent / "fixtures" / "mt_bench"


def test_quality_is_the_mean_gpt4_judge_score_of_both_turns_over_ten() -> None:
    data = read_outcomes(FIXTURE)
    assert data.models == (MMLU_WEAK, MMLU_STRONG)  # cheapest first
    assert len(data) == 17  # 18 questions, one listed as contaminated
    first = data.prompts.index("What is 17 times 23? Show the multiplication.")  # routed on the first turn
    assert data.correct[first] == pytest.approx(((3 + 4) / 20, (9 + 10) / 20))  # claude-v1's judgement ignored
    assert set(data.groups) == {"math", "writing"}
    assert "391" in data.answers[first][1] and "401" in data.answers[first][0]  # answers quoted by the judge
    weak, strong = data.cost[first]
    assert strong / weak == pytest.approx(24.7 / 0.24, rel=0.05)  # similar answer lengths: the price ratio
    binary = read_mt_bench(FIXTURE, binarize_at=8)
    assert binary.correct[first] == (0.0, 1.0)


def test_route_eval_on_mt_bench_reports_apgr_and_learns_which_questions_need_gpt4() -> None:
    args = ["route", "eval", str(FIXTURE), "--k", "3", "--train-fraction", "0.5", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    entries = {e["name"]: e for e in json.loads(result.output)["entries"]}
    knn = entries["knn"]["metrics"]
    # Math questions (the big quality gap) go to GPT-4 first: 80% of the gap at about the math share.
    assert knn["apgr"] > entries["random"]["metrics"]["apgr"] + 0.1
    assert knn["cpt80"] < 0.6
    assert entries["oracle"]["operating_point"]["accuracy"] == pytest.approx(0.950, abs=0.001)  # best per question


def test_a_question_without_both_judged_turns_is_a_clear_error(tmp_path: Path) -> None:
    for name in ("question.jsonl", "contaminated_prompts.jsonl"):
        (tmp_path / name).write_text((FIXTURE / name).read_text())
    lines = (FIXTURE / "judgements.jsonl").read_text().splitlines()
    kept = [line for line in lines if not (json.loads(line)["question_id"] == 2 and json.loads(line)["turn"] == 2)]
    (tmp_path / "judgements.jsonl").write_text("\n".join(kept) + "\n")
    with pytest.raises(OutcomeDataError, match="question 2 lacks GPT-4 judgements of both turns"):
        read_outcomes(tmp_path)


def test_real_mt_bench_matches_routellm_scores(shared_data: Callable[..., Path]) -> None:
    data = read_outcomes(shared_data("routellm", "mt_bench"))
    assert len(data) == 72  # 80 questions, 8 contaminated
    # RouteLLM reports MT-Bench scores of about 9.3 (GPT-4-1106) and 8.3 (Mixtral) on the full set.
    assert data.mean_accuracy(MMLU_STRONG) * 10 == pytest.approx(9.21, abs=0.01)
    assert data.mean_accuracy(MMLU_WEAK) * 10 == pytest.approx(8.28, abs=0.01)
