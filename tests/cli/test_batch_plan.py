"""``inferopt batch plan`` as a user runs it (a subprocess, an emulator over loopback): nothing is sent,
rows the cache holds (or that repeat an earlier row) are planned free, the rest by deadline."""

import json
import os
import subprocess
import sys
from pathlib import Path

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EMU_KEY": "sk-emulator-test"}
    command = [sys.executable, "-m", "inferopt", "batch", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=folder, env=env)


def _setup(server: EmulatorServer, folder: Path, n: int, repeats: int) -> None:
    (folder / "inferopt.yaml").write_text(
        "providers:\n"
        f"  emu: {{kind: openai, base_url: '{server.openai_base_url}', api_key_env: EMU_KEY}}\n"
        "default_model: emu/gpt-4o-mini\n"
    )
    texts = [f"review number {i} was fine" for i in range(n - repeats)] + ["review number 0 was fine"] * repeats
    (folder / "in.jsonl").write_text(
        "".join(json.dumps({"id": f"r{i}", "text": t}) + "\n" for i, t in enumerate(texts))
    )


def test_plan_sends_nothing_and_counts_cached_and_repeated_rows_as_free(tmp_path: Path) -> None:
    with EmulatorServer(EmulatorConfig(seed=1, overrides=ProfileOverrides(fixed_latency_s=0.0))) as server:
        _setup(server, tmp_path, 40, 10)
        common = ("--template", "Classify: {text}", "--max-tokens", "5", "--cache", "sqlite:///c.db")
        first = _cli(tmp_path, "plan", "in.jsonl", "--deadline", "1h", *common, "--json")
        assert first.returncode == 0, first.stderr
        assert server.stats.requests_total == 0  # planning sends nothing
        plan = json.loads(first.stdout)
        assert plan["rows"]["cache"] == 10 and plan["rows"]["flex"] + plan["rows"]["realtime"] == 30
        assert plan["cost_usd"] < plan["realtime_only_usd"]
        # Answer the first 20 rows through the cache; the plan then finds them (and the repeats) cached.
        (tmp_path / "head.jsonl").write_text("".join((tmp_path / "in.jsonl").read_text().splitlines(True)[:20]))
        ran = _cli(tmp_path, "run", "head.jsonl", "-o", "head.out.jsonl", *common)
        assert ran.returncode == 0, ran.stderr
        sent = server.stats.requests_total
        assert sent == 20
        second = _cli(tmp_path, "plan", "in.jsonl", "--deadline", "2d", *common, "--json")
        assert second.returncode == 0, second.stderr
        assert server.stats.requests_total == sent
    again = json.loads(second.stdout)
    assert again["rows"] == {"cache": 30, "realtime": 0, "flex": 0, "batch": 10}


def test_plan_prints_each_share_and_the_saving(tmp_path: Path) -> None:
    with EmulatorServer(EmulatorConfig(seed=1)) as server:
        _setup(server, tmp_path, 200, 0)
        result = _cli(tmp_path, "plan", "in.jsonl", "--deadline", "6h", "--budget", "40", "--max-tokens", "5")
    assert result.returncode == 0, result.stderr
    assert "plan for 200 rows on gpt-4o-mini" in result.stdout and "flex" in result.stdout
    # flex at half price, less the 5% of flex refused (answered realtime at the full price)
    assert "saving      $" in result.stdout and "(48%) against all-realtime" in result.stdout


def test_a_bad_deadline_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"id": 1, "text": "x"}\n')
    result = _cli(tmp_path, "plan", "in.jsonl", "--deadline", "soon")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "cannot read duration 'soon'; use e.g. 90s, 45m, 2h or 1d" in result.stderr
