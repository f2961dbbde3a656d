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


def test_saved_cascade_loads_with_its_knob_and_decides_the_same(tmp_path: Path) -> None:
    from inferopt.errors import RouterFileError
    from inferopt.routing.answer_cascade_file import load_pattern_cascade, save_pattern_cascade

    data = read_routerbench([FIXTURE], with_answers=True)
    train, test = data.split(0.5, seed=0)
    cascade = PatternCascade.fit(train, [CHEAP, PEER], STRONG)
    save_pattern_cascade(cascade, tmp_path / "c.npz", 123.0)
    loaded, knob = load_pattern_cascade(tmp_path / "c.npz")
    assert knob == 123.0 and loaded.cheap == (CHEAP, PEER) and loaded.strong == STRONG
    for prompt, answers in zip(test.prompts, test.answers, strict=True):
        for escalate_at in (0.0, 123.0, float("inf")):
            assert loaded.decide(prompt, answers[:2], escalate_at) == cascade.decide(prompt, answers[:2], escalate_at)
    save_pattern_cascade(cascade, tmp_path / "never.npz", float("inf"))
    assert load_pattern_cascade(tmp_path / "never.npz")[1] == float("inf")
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(RouterFileError, match="route train --answer-cascade"):
        load_pattern_cascade(tmp_path / "bad.npz")


async def test_live_cascade_escalates_when_the_answer_it_would_trust_fails() -> None:
    from inferopt.errors import ProviderError
    from inferopt.routing.answer_cascade_model import AnswerCascade
    from inferopt.testing import FunctionModel
    from inferopt.types import ChatRequest

    data = read_routerbench([FIXTURE], with_answers=True)
    cascade = PatternCascade.fit(data, [CHEAP, PEER], STRONG)
    arith = next(p for p, g in zip(data.prompts, data.groups, strict=True) if g == "arith")

    def broken(request: ChatRequest) -> str:
        raise ProviderError("haiku is down", model=PEER)

    targets = {
        CHEAP: FunctionModel(lambda r: "12", name=CHEAP),
        PEER: FunctionModel(broken, name=PEER),
        STRONG: FunctionModel(lambda r: "42", name=STRONG),
    }
    # Disagreeing arithmetic answers: the pattern trusts haiku (when not escalating); haiku failed.
    assert cascade.decide(arith, ["12", ""], float("inf")) == 1
    router = AnswerCascade(cascade, targets, escalate_at=float("inf"))
    response = await router.complete(ChatRequest.of(arith, model="router/x"))
    route = response.route
    assert response.content == "42" and route["chosen"] == STRONG
    assert "failed" in route["reason"]
    assert [a["outcome"] for a in route["attempts"]] == ["error", "rejected", "accepted"]
    capital = next(p for p, g in zip(data.prompts, data.groups, strict=True) if g == "capitals")
    targets[PEER] = FunctionModel(lambda r: "Paris", name=PEER)
    targets[CHEAP] = FunctionModel(lambda r: "Paris", name=CHEAP)
    calm = AnswerCascade(cascade, targets, escalate_at=float("inf"))
    agreed = await calm.complete(ChatRequest.of(capital, model="router/x"))
    assert agreed.content == "Paris" and agreed.route["chosen"] == CHEAP
    assert len(targets[CHEAP].calls) == len(targets[PEER].calls) == 1  # both cheap models asked once


def test_route_train_saves_an_answer_cascade_with_a_knob_chosen_within_budget(tmp_path: Path) -> None:
    from inferopt.routing.answer_cascade_file import load_pattern_cascade

    out = tmp_path / "cascade.npz"
    spec = f"{CHEAP}+{PEER}>{STRONG}"
    args = ["route", "train", str(FIXTURE), "--answer-cascade", spec, "--budget", "0.8", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "held out, accuracy 1.000" in result.output and "saved" in result.output
    cascade, knob = load_pattern_cascade(out)
    assert cascade.cheap == (CHEAP, PEER) and knob < float("inf")  # it escalates some patterns
