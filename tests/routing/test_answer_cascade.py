"""The learned answer-aware cascade: agreement patterns per task, learned on some rows, replayed on others."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from inferopt.cli.main import cli
from inferopt.routing.answer_cascade import PatternCascade, agreement_pattern, replay_pattern_cascade
from inferopt.routing.data import read_routerbench
from inferopt.routing.task_classifier import TaskClassifier

pytest.importorskip("numpy", reason="the task classifier needs numpy: pip install 'inferopt[routing]'")

FIXTURE = Path(__file__).parent / "fixtures" / "mini_routerbench.csv"
CHEAP, PEER, STRONG = "gpt-4o-mini", "claude-haiku-4-5", "gpt-4o"


def test_agreement_pattern_names_which_answers_match() -> None:
    assert agreement_pattern(["B", "b) because", "C"]) == "0.0.2"
    assert agreement_pattern(["109474", "109543", "109474"]) == "0.1.0"


def test_held_out_replay_escalates_disagreements_and_charges_every_call() -> None:
    data = read_routerbench([FIXTURE], with_answers=True)
    train, test = data.split(0.5, seed=0)
    cascade = PatternCascade.fit(train, [CHEAP, PEER], STRONG)
    assert all(cascade.tasks.predict(p) == g for p, g in zip(test.prompts, test.groups, strict=True))
    # When the two cheap models disagree on arithmetic, the better one (haiku) is the one to trust.
    assert cascade.table["arith|0.1"].accept == 1
    points = sorted(replay_pattern_cascade(test, cascade).points, key=lambda p: p.cost_per_query)
    cheapest, dearest = points[0], points[-1]
    assert cheapest.call_share == {CHEAP: 1.0, PEER: 1.0, STRONG: 0.0}  # both cheap models are always paid
    assert cheapest.cost_per_query == pytest.approx(test.mean_cost(CHEAP) + test.mean_cost(PEER))
    assert dearest.accuracy == 1.0 and dearest.call_share[STRONG] == 1.0
    # Escalating only the disagreements reaches gpt-4o's accuracy for less than gpt-4o alone costs.
    perfect = min((p for p in points if p.accuracy == 1.0), key=lambda p: p.cost_per_query)
    assert perfect.cost_per_query < test.mean_cost(STRONG)
    assert 0 < perfect.call_share[STRONG] < 0.5


def test_task_classifier_needs_a_label_per_prompt() -> None:
    with pytest.raises(ValueError, match="one label per prompt"):
        TaskClassifier.fit(["a", "b"], ["x"])
    assert TaskClassifier.fit(["add 2 and 3", "capital of France"], ["math", "geo"]).predict("add 5 and 9") == "math"


def test_route_eval_replays_an_answer_cascade_and_rejects_a_bad_spec() -> None:
    spec = f"{CHEAP}+{PEER}>{STRONG}"
    result = CliRunner().invoke(
        cli, ["route", "eval", str(FIXTURE), "--k", "10", "--budget", "0.8", "--answer-cascade", spec]
    )
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "answer cascade" in line)
    assert "1.000" in row  # within 80% of gpt-4o's cost it matches gpt-4o's accuracy on held-out rows
    bad = CliRunner().invoke(cli, ["route", "eval", str(FIXTURE), "--answer-cascade", f"{CHEAP}>gpt-5"])
    assert bad.exit_code == 1 and "unknown models ['gpt-5']" in bad.output
