"""``inferopt pareto`` end to end on the shipped example table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from inferopt.cli.main import cli

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "rag_chatbot_options.csv")


def test_pareto_prints_front_and_choice() -> None:
    result = CliRunner().invoke(
        cli, ["pareto", EXAMPLE, "--max-latency", "1.0", "--max-cost", "5", "--min-quality", "0.85"]
    )
    assert result.exit_code == 0, result.output
    assert "4 of 6 options on the Pareto front" in result.output
    assert "Choose: GPT-3.5 + caching + prompt eng" in result.output


def test_pareto_json_and_exit_code_when_nothing_qualifies() -> None:
    result = CliRunner().invoke(cli, ["pareto", EXAMPLE, "--max-latency", "0.5", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert data["chosen"] is None and "closest is 'GPT-3.5 + caching'" in data["error"]
    assert len(data["front"]) == 4


def test_pareto_custom_objectives() -> None:
    result = CliRunner().invoke(cli, ["pareto", EXAMPLE, "--objective", "cost_per_1k:min", "--json"])
    assert result.exit_code == 0, result.output
    assert [o["name"] for o in json.loads(result.output)["front"]] == ["GPT-3.5 + caching"]


def test_pareto_plot_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="plots need the plots extra: pip install 'inferopt[plots]'")
    out = tmp_path / "front.png"
    result = CliRunner().invoke(cli, ["pareto", EXAMPLE, "--min-quality", "0.85", "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
