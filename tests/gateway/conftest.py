"""Gateway tests: the official SDKs talk to a real gateway over loopback HTTP, the emulator answers behind it.

Helpers are fixtures (test modules cannot import this file under ``--import-mode=importlib``).
"""

from __future__ import annotations

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
