"""``inferopt emulate`` with faults from the command line: each flag reaches the emulator's
:class:`~inferopt.emulator.config.FaultConfig`, and a real server started by the command plays them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from inferopt.cli.emulate import emulate, emulator_config

FLAGS = [
    "--error-rate", "0.1",
    "--rate-limit-rate", "0.2",
    "--hang-rate", "0.3",
    "--drop-rate", "0.4",
    "--drop-after-fraction", "0.25",
    "--stall-rate", "0.6",
    "--slow-first-token", "1.5",
]  # fmt: skip


def test_every_fault_flag_sets_its_field() -> None:
    params = emulate.make_context("emulate", list(FLAGS)).params
    del params["host"], params["port"]
    faults = emulator_config(**params).faults
    assert (faults.error_rate, faults.rate_limit_rate, faults.hang_rate, faults.drop_rate) == (0.1, 0.2, 0.3, 0.4)
    assert (faults.drop_after_fraction, faults.stall_rate, faults.slow_first_token_s) == (0.25, 0.6, 1.5)


def test_a_rate_outside_0_to_1_is_refused_naming_the_flag() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "inferopt", "emulate", "--drop-rate", "1.5"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "--drop-rate" in result.stderr and "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def started(*flags: str, cwd: Path) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "inferopt", "emulate", "--port", str(port), "--latency", "0.2", *flags]
    process = subprocess.Popen(command, cwd=cwd, env=os.environ.copy(), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
        assert "faults:" in stderr  # the command says which faults it plays


@pytest.fixture
def slow_dropping(tmp_path: Path) -> Iterator[str]:
    yield from started("--slow-first-token", "0.6", "--drop-rate", "1", "--drop-after-fraction", "0.5", cwd=tmp_path)


@pytest.fixture
def failing(tmp_path: Path) -> Iterator[str]:
    yield from started("--error-rate", "1", cwd=tmp_path)


def test_a_slow_first_token_then_a_dropped_stream_from_the_command_line(slow_dropping: str) -> None:
    with openai.OpenAI(base_url=slow_dropping, api_key="sk-any", max_retries=0) as client:
        began = time.monotonic()
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Tell me about the sea."}], stream=True
        )
        chunks = iter(stream)
        next(chunks)
        assert time.monotonic() - began >= 0.6  # the first token, late by the flag's seconds
        with pytest.raises((openai.APIError, httpx.HTTPError)):  # the connection closes part-way
            for _ in chunks:
                pass


def test_an_error_rate_of_one_answers_500_from_the_command_line(failing: str) -> None:
    with (
        openai.OpenAI(base_url=failing, api_key="sk-any", max_retries=0) as client,
        pytest.raises(openai.InternalServerError),
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
