"""Batch API tests: the emulator over real loopback HTTP, its clock moved by the test.

Helpers are fixtures (test modules cannot import this file under ``--import-mode=importlib``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.emulator.config import EmulatorBatchLimits

DELAY_S = 600.0


class FakeClock:
    """A monotonic clock that moves only when a test says so (thread-safe enough: one writer)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_server(clock: FakeClock) -> Iterator[Callable[..., EmulatorServer]]:
    """``make_server(batch_error_rate=..., batch_limits=...)``: a started emulator on ``clock``."""
    started: list[EmulatorServer] = []

    def make(**settings: object) -> EmulatorServer:
        defaults: dict[str, object] = {
            "clock": clock,
            "batch_delay_s": DELAY_S,
            "overrides": ProfileOverrides(fixed_latency_s=0.0),
        }
        config = EmulatorConfig(**{**defaults, **settings})  # type: ignore[arg-type]
        server = EmulatorServer(config).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., EmulatorServer]) -> EmulatorServer:
    """An emulator whose batches take DELAY_S seconds and err on about 30% of lines."""
    return make_server(batch_error_rate=0.3)


@pytest.fixture
def small_limits() -> EmulatorBatchLimits:
    return EmulatorBatchLimits(
        openai_max_requests=5, openai_max_bytes=2_000, anthropic_max_requests=5, anthropic_max_bytes=3_000
    )


@pytest.fixture
def openai_lines() -> Callable[..., bytes]:
    """``openai_lines(n, model=...)``: a batch input file of ``n`` chat requests (custom ids r0..)."""

    def make(n: int, model: str = "gpt-4o-mini", max_tokens: int = 30) -> bytes:
        lines = [
            {
                "custom_id": f"r{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": model,
                    "messages": [{"role": "user", "content": f"question {i}"}],
                    "max_tokens": max_tokens,
                },
            }
            for i in range(n)
        ]
        return "\n".join(json.dumps(line) for line in lines).encode() + b"\n"

    return make


@pytest.fixture
def closing() -> Iterator[Callable[[Any], Any]]:
    """``closing(client)``: the client, closed when the test ends (SDK clients hold sockets)."""
    with contextlib.ExitStack() as stack:
        yield stack.enter_context
