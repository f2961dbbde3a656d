"""Gateway tests: the official SDKs talk to a real gateway over loopback HTTP, the emulator answers behind it.

Helpers are fixtures (test modules cannot import this file under ``--import-mode=importlib``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from inferopt.client import AsyncClient
from inferopt.config import Config, parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.gateway import GatewayApp
from inferopt.gateway.keys import KeyStore
from inferopt.gateway.server import GatewayServer
from inferopt.types import Model

PROVIDER_KEY = "sk-provider-secret-0123456789abcdef"
KEY_ENV = "INFEROPT_TEST_UPSTREAM_KEY"


@pytest.fixture(autouse=True)
def _provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The upstream key lives in the gateway's environment only; tests check it never leaks."""
    monkeypatch.setenv(KEY_ENV, PROVIDER_KEY)


def emulator_config_for(server: EmulatorServer, routers: dict[str, Any] | None = None) -> Config:
    """A gateway config whose providers are the emulator's two wire formats (and ``routers`` over them)."""
    return parse_config(
        {
            "providers": {
                "emu": {"kind": "openai", "base_url": server.openai_base_url, "api_key_env": KEY_ENV},
                "claude": {"kind": "anthropic", "base_url": server.anthropic_base_url, "api_key_env": KEY_ENV},
            },
            "models": {
                "fast": {"provider": "emu", "model": "gpt-4o-mini"},
                "smart": {"provider": "emu", "model": "gpt-4o"},
                "haiku": {"provider": "claude", "model": "claude-haiku-4-5"},
            },
            "default_model": "fast",
            "routers": routers or {},
        },
        source="test-gateway.yaml",
    )


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    """One zero-latency emulator shared by a module's tests that do not depend on its state."""
    with EmulatorServer(EmulatorConfig(seed=3, overrides=ProfileOverrides(fixed_latency_s=0.0))) as running:
        yield running


@pytest.fixture
def gateway_config() -> Callable[..., Config]:
    """``gateway_config(emulator, routers=None)``: the test gateway's config, to extend (``with_layer``)."""
    return emulator_config_for


GatewayFactory = Callable[..., GatewayServer]


@pytest.fixture
def start_gateway() -> Iterator[GatewayFactory]:
    """``start_gateway(emulator, keys=None, models=None, **app_options)``: a running gateway, stopped after the test."""
    running: list[GatewayServer] = []

    def start(
        upstream: EmulatorServer | None = None,
        *,
        config: Config | None = None,
        keys: KeyStore | None = None,
        models: dict[str, Model] | None = None,
        routers: dict[str, Any] | None = None,
        **options: Any,
    ) -> GatewayServer:
        if config is None:
            config = emulator_config_for(upstream, routers) if upstream is not None else parse_config({})
        app = GatewayApp(AsyncClient(config, models=models), keys=keys, **options)
        server = GatewayServer(app).start()
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


class RedisProcess:
    """A real ``redis-server`` of the test's own on ``port``, to kill and start again (no persistence)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: what a crash or an OOM kill does (every client's connection drops at once)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_process() -> Iterator[RedisProcess]:
    """A started ``redis-server`` on a free port, killed after the test; skips when it is not installed."""
    pytest.importorskip("redis", reason="the redis package is not installed (pip install 'inferopt[redis]')")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH (apt-get install redis-server) to test Redis outages for real")
    server = RedisProcess(free_port()).start()
    yield server
    server.kill()


@pytest.fixture
def dead_redis_url() -> str:
    """A Redis URL where nothing listens: a Redis that is down before the gateway starts."""
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def pick_port() -> Callable[[], int]:
    """``pick_port()``: a free loopback port (for a process the test starts)."""
    return free_port
