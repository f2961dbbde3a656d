"""End to end: the client with a ``metered`` stack over real HTTP to the emulator, then
``inferopt report`` on the SQLite file it wrote: tables, JSON, HTML, and the --compare gate."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from inferopt import AsyncClient
from inferopt.cli.main import cli
from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, FaultConfig, ProfileOverrides
from inferopt.errors import ProviderError


async def record_run(db: Path, latency_s: float, error_rate: float = 0.0, n: int = 60) -> None:
    emulator = EmulatorConfig(
        overrides=ProfileOverrides(fixed_latency_s=latency_s, jitter=0.2), faults=FaultConfig(error_rate=error_rate)
    )
    with EmulatorServer(emulator) as server:
        config = parse_config(
            {
                "providers": {
                    "emu": {"kind": "openai", "base_url": server.openai_base_url, "api_key_env": "EMULATOR_KEY"}
                },
                "stack": [{"metered": {"sink": f"sqlite://{db}", "flush_interval_s": 0.05}}],
            }
        )
        async with AsyncClient(config) as client:
            for i in range(n):
                model = "gpt-4o-mini" if i % 3 else "gpt-4o"
                with contextlib.suppress(ProviderError):  # failures are what we are recording
                    await client.complete(
                        f"question {i}", model=model, max_tokens=5, options={"key_id": f"team-{i % 2}"}
                    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import asyncio

    folder = tmp_path_factory.mktemp("runs")
    fast, slow = folder / "fast.db", folder / "slow.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMULATOR_KEY", "sk-emulator-test")
        asyncio.run(record_run(fast, 0.01))
        asyncio.run(record_run(slow, 0.05, error_rate=0.2))
    return fast, slow


def test_report_json_over_real_records(runs: tuple[Path, Path]) -> None:
    fast, _ = runs
    result = CliRunner().invoke(cli, ["report", str(fast), "--format", "json", "--by", "model"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    summary = data["summary"]
    assert summary["requests"] == 60 and summary["errors"] == 0
    assert summary["per_model"] == {"gpt-4o-mini": 40, "gpt-4o": 20}
    assert 0.01 <= summary["latency_p50_s"] < 1.0 and summary["total_cost_usd"] > 0
    assert set(data["groups"]) == {"gpt-4o-mini", "gpt-4o"}
    # gpt-4o costs more per request than gpt-4o-mini: the catalog priced each record.
    assert data["groups"]["gpt-4o"]["avg_cost_usd"] > data["groups"]["gpt-4o-mini"]["avg_cost_usd"]


def test_report_table_and_html(runs: tuple[Path, Path], tmp_path: Path) -> None:
    fast, _ = runs
    table = CliRunner().invoke(cli, ["report", f"sqlite://{fast}", "--since", "1h"])
    assert table.exit_code == 0 and "latency p50 / p95 / p99" in table.output
    out = tmp_path / "report.html"
    html = CliRunner().invoke(cli, ["report", str(fast), "--format", "html", "--out", str(out), "--by", "route"])
    assert html.exit_code == 0, html.output
    text = out.read_text()
    assert "<h2>By route</h2>" in text
    if _has_matplotlib():
        assert text.count("data:image/png;base64,") == 2  # no cache in this stack: no hit-rate plot


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_compare_gates_a_slower_failing_run(runs: tuple[Path, Path]) -> None:
    fast, slow = runs
    worse = CliRunner().invoke(cli, ["report", str(slow), "--compare", str(fast), "--format", "json"])
    assert worse.exit_code == 3, worse.output
    flagged = {c["metric"] for c in json.loads(worse.stdout)["comparisons"] if c["regressed"]}
    assert {"latency_p50_s", "error_rate"} <= flagged
    same = CliRunner().invoke(cli, ["report", str(fast), "--compare", str(fast)])
    assert same.exit_code == 0, same.output


def test_missing_records_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "nope.db")])
    assert result.exit_code == 1 and "records file not found" in result.output


async def test_streamed_requests_record_time_to_first_token_over_http(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inferopt.monitor import read_records

    monkeypatch.setenv("EMULATOR_KEY", "sk-emulator-test")
    db = tmp_path / "stream.db"
    emulator = EmulatorConfig(overrides=ProfileOverrides(ttft_s=0.05, tokens_per_s=100, jitter=0.0))
    with EmulatorServer(emulator) as server:
        config = parse_config(
            {
                "providers": {
                    "emu": {"kind": "openai", "base_url": server.openai_base_url, "api_key_env": "EMULATOR_KEY"}
                },
                "stack": [{"metered": {"sink": f"sqlite://{db}", "flush_interval_s": 0.05}}],
            }
        )
        async with AsyncClient(config) as client:
            async for _ in client.stream("tell me a story", model="gpt-4o-mini", max_tokens=20):
                pass
            stream = client.stream("another story", model="gpt-4o-mini", max_tokens=20)
            await stream.__anext__()
            await stream.aclose()  # the caller stops reading after the first piece
    import asyncio

    await asyncio.sleep(0.3)  # the writer's next tick (the client does not close stack layers yet)
    done, abandoned = read_records(db)
    assert done.streamed and done.error == "" and done.output_tokens == 20
    assert done.ttft_s is not None and done.latency_s is not None
    assert 0.04 <= done.ttft_s < done.latency_s  # 20 tokens at 100/s come ~0.2 s after the first
    assert abandoned.error == "StreamClosedEarly"
