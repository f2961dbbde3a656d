"""Emulator tests: real loopback HTTP with the official SDKs; no network beyond 127.0.0.1.

Helpers are fixtures (the suite imports test files with ``--import-mode=importlib``, so test
modules cannot import this file).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"

# Exact token counts when the shared tiktoken files exist; every test also passes without them.
if (SHARED / "tiktoken").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str((SHARED / "tiktoken").resolve()))


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    """One shared emulator (seed 0, no latency) for tests that do not depend on its state."""
    with EmulatorServer(EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0))) as running:
        yield running


@pytest.fixture
def long_text() -> Callable[[int, str], str]:
    """``long_text(n, salt)``: a prompt of at least ``n`` tokens, distinct per ``salt``."""

    def make(n_words: int, salt: str = "") -> str:
        words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa", "lambda", "sigma"]
        return salt + " " + " ".join(words[i % len(words)] for i in range(n_words))

    return make


@pytest.fixture
def fixtures_dir() -> Path:
    return Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def routerbench_dir() -> Path:
    """The real RouterBench files, or a skip saying why they are absent."""
    path = (SHARED / "data" / "routerbench").resolve()
    if not path.is_dir():
        pytest.skip(f"real RouterBench data not present at {path} (a fresh clone has no ../shared)")
    return path
