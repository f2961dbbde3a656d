"""``inferopt eval`` over real HTTP: the emulator replays RouterBench answers, so quality is real."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from inferopt.cli.main import cli
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "routerbench_tiny.csv"


def recorded_accuracy(model: str) -> float:
    with FIXTURE.open(newline="") as f:
        labels = [float(row[model]) for row in csv.DictReader(f)]
    return sum(labels) / len(labels)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(replay_paths=[FIXTURE], overrides=ProfileOverrides(fixed_latency_s=0.1, jitter=0.0))
    with EmulatorServer(config) as server:
        yield server


def write_experiment(folder: Path, base_url: str, **extra: object) -> Path:
    spec = {
        "name": "tiny",
        "dataset": {"path": str(FIXTURE), "format": "routerbench"},
        "scorer": {"kind": "recorded"},
        "base": {"providers": {"emu": {"kind": "openai", "base_url": base_url, "api_key_env": "EMULATOR_KEY"}}},
        "requirements": {"min_quality": 0.8},
        "configurations": [
            {"name": "gpt-4 sequential", "model": "gpt-4-1106-preview", "concurrency": 1},
            {"name": "gpt-3.5 parallel", "model": "gpt-3.5-turbo-1106", "concurrency": 6},
            {
                "name": "gpt-3.5 + cache",
                "model": "gpt-3.5-turbo-1106",
                "concurrency": 6,
                "config": {"stack": [{"cache": {"url": "memory://"}}]},
            },
        ],
        **extra,
    }
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_eval_measures_quality_from_recorded_labels_and_picks_from_the_front(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMULATOR_KEY", "sk-emulator-test")
    experiment = write_experiment(tmp_path, emulator.openai_base_url)
    result = CliRunner().invoke(cli, ["eval", str(experiment), "--json", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by_name = {r["name"]: r for r in data["results"]}
    assert by_name["gpt-4 sequential"]["quality"] == pytest.approx(recorded_accuracy("gpt-4-1106-preview"))
    assert by_name["gpt-3.5 parallel"]["quality"] == pytest.approx(recorded_accuracy("gpt-3.5-turbo-1106"))
    assert all(r["scored"] == 6 and r["errors"] == 0 for r in by_name.values())
    # gpt-4 costs more per request than gpt-3.5 at catalog prices, and its latency is per request.
    assert by_name["gpt-4 sequential"]["cost_per_1k"] > by_name["gpt-3.5 parallel"]["cost_per_1k"]
    assert by_name["gpt-4 sequential"]["latency_p50"] >= 0.1
    # Sequential wall time is the sum of latencies; six in parallel take about one.
    assert by_name["gpt-4 sequential"]["wall_s"] > 2 * by_name["gpt-3.5 parallel"]["wall_s"]
    assert data["chosen"] == "gpt-4 sequential"  # the only one meeting quality >= 0.8
    saved = [json.loads(line) for line in (tmp_path / "out" / "tiny.results.jsonl").read_text().splitlines()]
    assert saved[2]["configuration"]["config"]["stack"] == [{"cache": {"url": "memory://"}}]
    assert (tmp_path / "out" / "tiny.options.csv").read_text().startswith("name,latency_p95,cost_per_1k,quality")


def test_eval_table_plot_and_failed_requirements(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMULATOR_KEY", "sk-emulator-test")
    experiment = write_experiment(tmp_path, emulator.openai_base_url, requirements={"min_quality": 0.99})
    plot, page = tmp_path / "front.png", tmp_path / "eval.html"
    args = ["eval", str(experiment), "--plot", str(plot), "--html", str(page)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "no option meets the requirements (quality >= 0.99); the closest is 'gpt-4 sequential'" in result.output
    assert "<td>gpt-4 sequential</td>" in page.read_text()
    if _has_matplotlib():
        assert plot.read_bytes()[:4] == b"\x89PNG"
        assert "data:image/png;base64," in page.read_text()


def test_bad_experiment_files_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("dataset: {path: x.jsonl}\nconfigurations: []\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(path)])
    assert result.exit_code == 1 and "key 'configurations'" in result.output
    path.write_text("dataset: {path: missing.jsonl}\nconfigurations: [{name: a}]\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(path)])
    assert result.exit_code == 1 and "dataset file not found" in result.output


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


async def test_quality_on_real_routerbench_rows_equals_their_recorded_labels(
    shared_data: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inferopt.tradeoff.experiments import load_experiment, run_experiment

    arc = shared_data("routerbench", "arc_challenge_train.csv")  # type: ignore[operator]
    csv.field_size_limit(10**9)
    with arc.open(newline="", encoding="utf-8") as f:
        rows = [row for _, row in zip(range(12), csv.DictReader(f), strict=False)]
    monkeypatch.setenv("EMULATOR_KEY", "sk-emulator-test")
    config = EmulatorConfig(replay_paths=[arc], overrides=ProfileOverrides(fixed_latency_s=0.0))
    with EmulatorServer(config) as server:
        path = write_experiment(tmp_path, server.openai_base_url)
        spec, folder = load_experiment(path)
        spec = spec.model_copy(update={"dataset": spec.dataset.model_copy(update={"path": str(arc), "limit": 12})})
        results = {r.name: r for r in await run_experiment(spec, folder)}
    for name, model in (("gpt-4 sequential", "gpt-4-1106-preview"), ("gpt-3.5 parallel", "gpt-3.5-turbo-1106")):
        labels = [float(row[model]) for row in rows if row[model] not in ("", "nan")]
        assert results[name].scored == len(labels)
        assert results[name].quality == pytest.approx(sum(labels) / len(labels))
