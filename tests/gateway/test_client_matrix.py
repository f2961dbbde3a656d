"""The client matrix: popular clients, unchanged but for ``base_url``, against the gateway and the
emulator over real loopback HTTP. Each client runs in its own process and environment, as in a
user's app (Python clients from .clients/venv, Node clients from tests/clients/node): see
scripts/install_clients.sh, which CI runs. README.md's client table lists these cases."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inferopt.emulator import EmulatorServer

REPO = Path(__file__).resolve().parents[2]
CLIENTS = REPO / "tests" / "clients"
VENV_PYTHON = REPO / ".clients" / "venv" / "bin" / "python"
NODE_MODULES = CLIENTS / "node" / "node_modules"
INSTALL = "run scripts/install_clients.sh (CI does) to install the client matrix's clients"


def _text(out: dict[str, Any]) -> None:
    assert isinstance(out["text"], str) and out["text"].strip(), out


def _tool_loop(out: dict[str, Any]) -> None:
    assert out["tool_calls"] and "Sunny and 21 C" in out["final"], out


def _structured(out: dict[str, Any]) -> None:
    assert isinstance(out["parsed"]["attendees"], list) and isinstance(out["parsed"]["day"], int), out


def _two_vectors(out: dict[str, Any]) -> None:
    # LangChain embeds documents as token arrays (tiktoken), each a text-embedding-3-small vector.
    assert out["count"] == 2 and out["dimensions"] == 1536, out


def _one_vector(out: dict[str, Any]) -> None:
    assert out["dimensions"] == 1536, out


def _stream(out: dict[str, Any]) -> None:
    assert out["text"] and out["text"] == out.get("final", out["text"]), out


PYTHON_CASES: dict[str, Callable[[dict[str, Any]], None]] = {
    "langchain_chat": _text,
    "langchain_structured": _structured,
    "langchain_responses": _text,
    "llamaindex_llm": _text,
    "langchain_embeddings": _two_vectors,
    "llamaindex_embeddings": _one_vector,
    "agents_sdk": _tool_loop,
}
NODE_CASES: dict[str, Callable[[dict[str, Any]], None]] = {
    "openai_chat": _text,
    "openai_responses": _text,
    "openai_responses_stream": _stream,
    "vercel_generate_text_with_tool": _tool_loop,
    "vercel_stream_text": _stream,
}


@pytest.fixture(params=["gateway", "emulator"])
def base_url(request: pytest.FixtureRequest, emulator: EmulatorServer, start_gateway: Any) -> str:
    if request.param == "emulator":
        return emulator.openai_base_url
    return str(start_gateway(emulator).openai_base_url)


def run(command: list[str], cwd: Path) -> dict[str, Any]:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{' '.join(command[:3])} failed:\n{done.stdout}\n{done.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("case", sorted(PYTHON_CASES))
def test_python_client(case: str, base_url: str) -> None:
    if not VENV_PYTHON.exists():
        pytest.skip(f"{VENV_PYTHON} is missing: {INSTALL}")
    PYTHON_CASES[case](run([str(VENV_PYTHON), str(CLIENTS / "python_clients.py"), case, base_url], CLIENTS))


@pytest.mark.parametrize("case", sorted(NODE_CASES))
def test_node_client(case: str, base_url: str) -> None:
    node = shutil.which("node")
    if node is None or not NODE_MODULES.is_dir():
        pytest.skip(f"node or {NODE_MODULES} is missing: {INSTALL}")
    NODE_CASES[case](run([node, "clients.mjs", case, base_url], CLIENTS / "node"))
