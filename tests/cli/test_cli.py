"""The command line, run as a user runs it: a real subprocess."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from inferopt.cli.common import EMULATOR_NOTICE


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferopt", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("ask", "emulate", "prices"):
        assert re.search(rf"^\s+{command}\s", result.stdout, flags=re.M), result.stdout


def test_ask_streams_through_the_emulator_and_prints_stats(tmp_path: Path) -> None:
    result = run("ask", "What is a token bucket?", "--model", "gpt-4o-mini", "--max-tokens", "40", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "the answer goes to stdout"
    notices = [line for line in result.stderr.splitlines() if line == EMULATOR_NOTICE]
    assert len(notices) == 1, result.stderr  # says so in exactly one line
    stats = result.stderr.strip().splitlines()[-1]
    assert re.search(r"\d+ in / \d+ out tokens · \$\d+\.\d{6} · TTFT \d+ ms · \d+\.\d\d s total", stats), stats
    assert "gpt-4o-mini" in stats and "(emulated)" in stats


def test_ask_with_an_anthropic_model(tmp_path: Path) -> None:
    result = run("ask", "hello", "-m", "claude-haiku-4-5", "--max-tokens", "20", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "claude-haiku-4-5" in result.stderr.splitlines()[-1]


def test_bad_config_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("providers:\n  p: {kind: openai, base_ulr: http://x}\n")
    result = run("ask", "hi", "--config", "bad.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "bad.yaml" in result.stderr and "providers.p.base_ulr" in result.stderr


def test_missing_key_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "inferopt.yaml").write_text("providers:\n  oa: {kind: openai, api_key_env: NO_SUCH_KEY_VAR}\n")
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    result = run("ask", "hi", "-m", "gpt-4o", cwd=tmp_path)
    assert result.returncode == 1 and "NO_SUCH_KEY_VAR is not set" in result.stderr


def test_prices_shows_catalog_rows(tmp_path: Path) -> None:
    result = run("prices", "gpt-4o", "claude-sonnet-4-5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "gpt-4o" in result.stdout and "claude-sonnet-4-5" in result.stdout


def test_prices_unknown_model_suggests(tmp_path: Path) -> None:
    result = run("prices", "gpt-4o-mnii", cwd=tmp_path)
    assert result.returncode == 1 and "gpt-4o-mini" in result.stderr
