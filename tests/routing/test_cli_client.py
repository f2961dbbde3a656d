"""`inferopt route train/eval` on fixture data, and `router/<name>` inside AsyncClient."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from inferopt import AsyncClient
from inferopt.cli.main import cli
from inferopt.config import parse_config
from inferopt.errors import ConfigError, UnknownModelError
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest, ChatResponse, Usage

FIXTURES = Path(__file__).parent / "fixtures"
DATA = str(FIXTURES / "mini_routerbench.csv")


def test_eval_prints_every_reference_and_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the PNG needs the plots extra (pip install 'inferopt[plots]')")
    png = tmp_path / "curve.png"
    result = CliRunner().invoke(cli, ["route", "eval", DATA, "--k", "10", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    for name in ("gpt-4o-mini", "gpt-4o", "random", "oracle", "knn", "trained here on 30", "evaluated on the other 30"):
        assert name in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_then_eval_a_saved_router_only_on_unseen_rows(tmp_path: Path) -> None:
    saved = tmp_path / "router.npz"
    runner = CliRunner()
    trained = runner.invoke(cli, ["route", "train", DATA, "--out", str(saved), "--train-fraction", "0.5", "--k", "10"])
    assert trained.exit_code == 0, trained.output
    assert "trained on 30 of 60" in trained.output
    same_split = runner.invoke(cli, ["route", "eval", DATA, "--router", str(saved), "--train-fraction", "0.5"])
    assert same_split.exit_code == 0, same_split.output
    assert "router" in same_split.output
    # Its training rows are dropped and counted, whatever split the command line asks for.
    assert "30 rows dropped: router.npz was trained on them" in same_split.output
    assert "evaluated on 30" in same_split.output


def test_eval_replays_an_agreement_cascade_on_recorded_answers() -> None:
    cascade = "gpt-4o-mini+claude-haiku-4-5>gpt-4o"
    result = CliRunner().invoke(cli, ["route", "eval", DATA, "--k", "10", "--cascade", cascade])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "cascade" in line)
    assert "1.000" in row  # disagreement on a product escalates to gpt-4o, which is always right
    bad = CliRunner().invoke(cli, ["route", "eval", DATA, "--cascade", "gpt-4o-mini>gpt-5"])
    assert bad.exit_code == 1 and "unknown models ['gpt-5']" in bad.output


def test_eval_of_a_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n")
    result = CliRunner().invoke(cli, ["route", "eval", str(bad)])
    assert result.exit_code == 1 and "not a RouterBench CSV" in result.output


def _priced(text: str, cost: float) -> FunctionModel:
    return FunctionModel(
        lambda r: ChatResponse(id="x", model=r.model, content=text, usage=Usage(5, 1), cost_usd=cost), name=text
    )


async def test_router_from_config_runs_inside_async_client() -> None:
    config = parse_config(
        {
            "providers": {"emulator": {"kind": "emulator"}},
            "routers": {
                "cheap-first": {
                    "kind": "cascade",
                    "stages": [
                        {"model": "gpt-4o-mini", "check": {"agreement": ["claude-haiku-4-5"]}, "threshold": 1.0},
                        {"model": "gpt-4o"},
                    ],
                },
                "safe": {"kind": "fallback", "order": ["gpt-4o-mini", "gpt-4o"]},
            },
        }
    )
    models = {"gpt-4o-mini": _priced("A", 0.0), "claude-haiku-4-5": _priced("B", 0.0), "gpt-4o": _priced("B", 0.0)}
    async with AsyncClient(config, models=models) as client:
        response = await client.complete("Pick A or B", model="router/cheap-first")
        assert response.content == "B"
        assert response.route["chosen"] == "gpt-4o"
        # Each target call goes through the client, so it is priced from the catalog; the router sums them.
        attempts = response.route["attempts"]
        assert [a["model"] for a in attempts] == ["gpt-4o-mini", "claude-haiku-4-5", "gpt-4o"]
        assert all(a["cost_usd"] > 0 for a in attempts)
        assert response.cost_usd == pytest.approx(sum(a["cost_usd"] for a in attempts))
        assert (await client.complete("hi", model="router/safe")).route["router"] == "safe"
        with pytest.raises(UnknownModelError, match="cheap-first"):
            await client.complete("hi", model="router/nope")


async def test_bad_router_config_names_the_key() -> None:
    config = parse_config({"routers": {"x": {"kind": "cascade", "stages": [{"modle": "a"}]}}})
    async with AsyncClient(config, models={"a": _priced("A", 0.0)}) as client:
        with pytest.raises(ConfigError, match=r"routers\.x"):
            await client.complete(ChatRequest.of("hi", model="router/x"))
