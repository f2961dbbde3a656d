"""The README is executed: its test command is CI's, and its Python example runs."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

README = (REPO / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = code_blocks("bash")[1].strip()
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines, f"README test command {test_command!r} is not a line of .ci/run"


def test_readme_python_example_runs_against_the_emulator(tmp_path: Path) -> None:
    example = next(b for b in code_blocks("python") if "asyncio.run(main())" in b)
    script = tmp_path / "example.py"
    script.write_text(example)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.search(r"\d+ \d+ \d\.\d+", lines[0]), lines[0]  # tokens in, out, and a cost
    assert re.search(r"TTFT \d\.\d{3} s, cost \$\d\.\d{6}", result.stdout)


@pytest.mark.parametrize("block", [b for b in code_blocks("yaml")])
def test_readme_yaml_config_is_valid(block: str, tmp_path: Path) -> None:
    from inferopt.client import AsyncClient
    from inferopt.config import load_config

    path = tmp_path / "inferopt.yaml"
    path.write_text(block)
    config = load_config(path)
    client = AsyncClient(config)
    for name in config.routers:  # router options are checked when built: build each one
        client._model_for(client.resolve(f"router/{name}"))
