"""A router trained on one file, judged on another: overlap dropped and counted; every reader's bad
input is one line naming the row or column; ``--json`` carries what the table shows."""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner

from inferopt.cli.main import cli
from inferopt.errors import OutcomeDataError
from inferopt.routing.data import Outcomes
from inferopt.routing.outcome_files import read_outcomes

pytest.importorskip("numpy", reason="the learned router needs numpy: pip install 'inferopt[routing]'")

FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini_routerbench.csv"


def _write_generic(data: Outcomes, rows: range, path: Path) -> None:
    """``rows`` of ``data`` in the generic long format (JSONL or CSV by suffix)."""
    records = [
        {
            "prompt": data.prompts[i],
            "model": m,
            "score": data.correct[i][j],
            "cost": data.cost[i][j],
            "group": data.groups[i],
        }
        for i in rows
        for j, m in enumerate(data.models)
    ]
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    else:
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)


def test_router_trained_on_every_row_of_one_file_is_judged_on_another(tmp_path: Path) -> None:
    mini = read_outcomes(MINI)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.csv"
    _write_generic(mini, range(0, 40), first)
    _write_generic(mini, range(30, 60), second)  # rows 30-39 are in both files
    saved = tmp_path / "r.npz"
    runner = CliRunner()
    trained = runner.invoke(
        cli, ["route", "train", str(first), "--out", str(saved), "--train-fraction", "1.0", "--k", "5"]
    )
    assert trained.exit_code == 0, trained.output
    assert "trained on 40 of 40 prompts" in trained.output and "0 held out" in trained.output
    result = runner.invoke(cli, ["route", "eval", str(second), "--router", str(saved), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["data"]["dropped_seen_in_training"] == {str(saved): 10}
    assert summary["data"]["evaluated"] == summary["rows"] == 20
    names = [e["name"] for e in summary["entries"]]
    assert names == [*mini.models, "random", "oracle", "r"]
    table = runner.invoke(cli, ["route", "eval", str(second), "--router", str(saved)])
    assert "10 rows dropped: r.npz was trained on them" in table.output and "evaluated on 20" in table.output


def test_everything_trained_here_leaves_nothing_to_evaluate_and_says_so() -> None:
    result = CliRunner().invoke(cli, ["route", "eval", str(MINI), "--train-fraction", "1.0"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no rows left to evaluate" in result.output and "lower --train-fraction" in result.output


def test_json_summary_holds_curves_references_and_routerarena_scores() -> None:
    result = CliRunner().invoke(cli, ["route", "eval", str(MINI), "--k", "10", "--json", "--budget", "0.5"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    entries = {e["name"]: e for e in summary["entries"]}
    strongest = summary["strongest"]
    assert strongest == "gpt-4o"
    # Each single model reaches its own accuracy at exactly its own cost; the oracle never pays more.
    for model in summary["models"]:
        reach = entries[model]["cost_to_reach"][model]
        assert reach["share_of_its_cost"] == pytest.approx(1.0)
    oracle = entries["oracle"]["cost_to_reach"][strongest]
    assert oracle["share_of_its_cost"] <= 1.0
    knn = entries["knn"]
    assert len(knn["points"]) > 3 and knn["metrics"]["aiq"] > 0
    costs = [p["cost_per_query"] for p in knn["points"]]
    assert costs == sorted(costs)
    assert knn["operating_point"]["cost_per_query"] <= summary["budget"]["cost_per_query"] + 1e-12
    ranks = sorted(e["routerarena"]["rank"] for e in summary["entries"])
    assert ranks == list(range(1, len(entries) + 1))
    by_rank = sorted(summary["entries"], key=lambda e: e["routerarena"]["rank"])
    assert [e["routerarena"]["score"] for e in by_rank] == sorted(
        (e["routerarena"]["score"] for e in by_rank), reverse=True
    )
    arena = entries["gpt-4o"]["routerarena"]
    assert arena["cost_per_1k_queries"] == pytest.approx(2.0)  # $0.002 per query in the fixture


def test_generic_file_errors_name_the_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"prompt": "p", "model": "a", "score": 1, "cost": 0.1}\n'
        '{"prompt": "p", "model": "b", "score": 7, "cost": 0.1}\n'
    )
    with pytest.raises(OutcomeDataError, match=r"line 2, field 'score' is 7; expected a number between 0 and 1"):
        read_outcomes(bad)
    gap = tmp_path / "gap.csv"
    gap.write_text("prompt,model,score,cost\np,a,1,0.1\np,b,0,0.2\nq,a,1,0.1\n")
    with pytest.raises(OutcomeDataError, match=r"prompt on line 4 has no line for model 'b'"):
        read_outcomes(gap)
    result = CliRunner().invoke(cli, ["route", "eval", str(gap)])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1


def _gsm8k(folder: Path, rows: list[tuple[str, str, str]]) -> Path:
    folder.mkdir()
    path = folder / "gsm8k_responses.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["prompt", "mixtral-8x7b-instruct-v0.1", "gpt-4-1106-preview",
                         "mixtral-8x7b-instruct-v0.1_response", "gpt-4-1106-preview_response"])  # fmt: skip
        writer.writerows([(p, w, s, "It is 4. #### 4", "The answer is 4.") for p, w, s in rows])
    return path


def test_routellm_gsm8k_file_is_read_with_its_contaminated_prompts_dropped(tmp_path: Path) -> None:
    rows = [(f"What is {i} plus {i}?", "True" if i % 2 else "False", "True") for i in range(12)]
    path = _gsm8k(tmp_path / "gsm8k", rows)
    (path.parent / "contaminated_prompts.jsonl").write_text(
        json.dumps({"eval_prompt": rows[0][0], "train_prompt": "x"}) + "\n"
    )
    data = read_outcomes(path)
    assert len(data) == 11 and data.models == ("mixtral-8x7b-instruct-v0.1", "gpt-4-1106-preview")
    assert data.mean_accuracy("gpt-4-1106-preview") == 1.0
    weak, strong = data.cost[0]
    assert strong / weak == pytest.approx(24.7 / 0.24)  # same answer lengths here: the published price ratio
    assert read_outcomes(path.parent).prompts == data.prompts  # the folder works too
    broken = _gsm8k(tmp_path / "broken", [("q", "True", "maybe")])
    with pytest.raises(OutcomeDataError, match=r"row 2, column 'gpt-4-1106-preview' holds 'maybe'"):
        read_outcomes(broken)


def test_routerbench_pickle_of_plain_columns_reads_like_its_csv(tmp_path: Path) -> None:
    with MINI.open(newline="") as f:
        rows = list(csv.DictReader(f))
    columns = {c: [r[c] for r in rows] for c in rows[0]}
    for c in columns:
        if c.endswith("|total_cost") or c in ("gpt-4o-mini", "claude-haiku-4-5", "gpt-4o"):
            columns[c] = [float(v) for v in columns[c]]
    path = tmp_path / "routerbench_0shot.pkl"
    path.write_bytes(pickle.dumps(columns))
    from_pickle, from_csv = read_outcomes(path), read_outcomes(MINI)
    assert from_pickle.prompts == from_csv.prompts and from_pickle.correct == from_csv.correct
    assert from_pickle.cost == from_csv.cost and from_pickle.models == from_csv.models
    foreign = tmp_path / "foreign.pkl"
    foreign.write_bytes(b"\x80\x04cos\nsystem\n)\x81.")  # names os.system: refused, never called
    with pytest.raises(OutcomeDataError, match=r"holds a os\.system, not RouterBench rows"):
        read_outcomes(foreign)


def test_dataframe_pickle_without_pandas_says_how_to_read_it(tmp_path: Path) -> None:
    try:
        import pandas  # type: ignore[import-untyped]  # noqa: F401

        pytest.skip("pandas is installed: the DataFrame pickle would be read")
    except ImportError:
        pass
    frame = tmp_path / "routerbench_5shot.pkl"
    frame.write_bytes(b"\x80\x04cpandas.core.frame\nDataFrame\n)\x81.")
    with pytest.raises(OutcomeDataError, match=r"needs pandas \(pip install pandas\)"):
        read_outcomes(frame)


def test_routerbench_and_mt_bench_errors_name_the_row(tmp_path: Path) -> None:
    lines = MINI.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[3].split(",")
    cells[header.index("gpt-4o|total_cost")] = "cheap"
    bad = tmp_path / "bad_routerbench.csv"
    bad.write_text("\n".join([lines[0], lines[1], lines[2], ",".join(cells)]) + "\n")
    result = CliRunner().invoke(cli, ["route", "eval", str(bad)])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "row 4, column 'gpt-4o|total_cost' holds 'cheap', expected a number" in result.output
    mt = tmp_path / "mt_bench"
    mt.mkdir()
    (mt / "question.jsonl").write_text(json.dumps({"question_id": 1, "turns": ["a", "b"]}) + "\n")
    (mt / "judgements.jsonl").write_text(
        json.dumps({"question_id": 1, "model": "gpt-4-1106-preview", "turn": 1}) + "\n"
    )
    with pytest.raises(OutcomeDataError, match=r"judgement 1 has no 'user_prompt'"):
        read_outcomes(mt)


def test_a_router_is_scored_on_the_models_it_shares_with_the_file(tmp_path: Path) -> None:
    saved = tmp_path / "r.npz"
    runner = CliRunner()
    assert runner.invoke(cli, ["route", "train", str(MINI), "--out", str(saved), "--k", "5"]).exit_code == 0
    mini = read_outcomes(MINI)
    two = tmp_path / "two.jsonl"
    _write_generic(mini.with_models(["gpt-4o-mini", "gpt-4o"]), range(60), two)
    result = runner.invoke(cli, ["route", "eval", str(two), "--router", str(saved), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["models"] == ["gpt-4o-mini", "gpt-4o"] and summary["data"]["dropped_seen_in_training"] == {
        str(saved): 30
    }
    router = next(e for e in summary["entries"] if e["name"] == "r")
    assert all(set(p["call_share"]) <= {"gpt-4o-mini", "gpt-4o"} for p in router["points"])
    assert "apgr_routellm" in router["metrics"]  # two models: RouteLLM's metric applies
    strangers = tmp_path / "strangers.jsonl"
    strangers.write_text(
        "".join(
            json.dumps({"prompt": f"q{i}", "model": m, "score": 1, "cost": 0.1}) + "\n" for i in range(3) for m in "xy"
        )
    )
    refused = runner.invoke(cli, ["route", "eval", str(strangers), "--router", str(saved)])
    assert refused.exit_code == 1 and "share fewer than two" in refused.output
