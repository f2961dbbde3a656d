"""House standards are part of the test command: ruff clean, formatted, mypy --strict on src."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed (pip install -e '.[dev]')")
def test_ruff_lint_and_format() -> None:
    lint = run("ruff", "check", "src", "tests", "scripts", "benchmarks", "examples")
    assert lint.returncode == 0, lint.stdout
    fmt = run("ruff", "format", "--check", "src", "tests", "scripts", "benchmarks", "examples")
    assert fmt.returncode == 0, fmt.stdout


def test_mypy_strict_on_src() -> None:
    pytest.importorskip("mypy", reason="mypy not installed (pip install -e '.[dev]')")
    result = run("mypy", "src/inferopt")
    assert result.returncode == 0, result.stdout
