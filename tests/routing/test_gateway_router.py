"""A router named in the config answers through the gateway: the official openai SDK asks for
``model="router/<name>"`` and gets the routed, recorded answer with its total cost."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from inferopt.client import AsyncClient
from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.gateway import GatewayApp
from inferopt.gateway.server import GatewayServer

FIXTURE = Path(__file__).parent / "fixtures" / "mini_routerbench.csv"
CAPITAL = "What is the capital city of Peru? Reply with the city name only."
PRODUCT = next(  # a product the cheap models disagree on, so the cascade escalates
    line.split("'")[1] for line in FIXTURE.read_text().splitlines() if line.startswith("arith.0,")
)


def test_openai_sdk_through_the_gateway_to_a_cascade(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_KEY", "emulator-key")
    emulator = EmulatorConfig(replay_paths=[FIXTURE], overrides=ProfileOverrides(fixed_latency_s=0.0, jitter=0.0))
    with EmulatorServer(emulator) as upstream:
        config = parse_config(
            {
                "providers": {
                    "oa": {"kind": "openai", "base_url": upstream.openai_base_url, "api_key_env": "EMULATOR_KEY"},
                    "an": {"kind": "anthropic", "base_url": upstream.anthropic_base_url, "api_key_env": "EMULATOR_KEY"},
                },
                "models": {
                    "gpt-4o-mini": {"provider": "oa", "model": "gpt-4o-mini"},
                    "gpt-4o": {"provider": "oa", "model": "gpt-4o"},
                    "claude-haiku-4-5": {"provider": "an", "model": "claude-haiku-4-5"},
                },
                "routers": {
                    "cheap-first": {
                        "kind": "cascade",
                        "stages": [
                            {"model": "gpt-4o-mini", "check": {"agreement": ["claude-haiku-4-5"]}, "threshold": 1.0},
                            {"model": "gpt-4o"},
                        ],
                    }
                },
            }
        )
        gateway = GatewayServer(GatewayApp(AsyncClient(config))).start()
        try:
            with openai.OpenAI(base_url=gateway.openai_base_url, api_key="sk-anything", max_retries=0) as client:
                easy = client.chat.completions.with_raw_response.create(
                    model="router/cheap-first", messages=[{"role": "user", "content": CAPITAL}]
                )
                hard = client.chat.completions.with_raw_response.create(
                    model="router/cheap-first", messages=[{"role": "user", "content": PRODUCT}]
                )
        finally:
            gateway.stop()
    assert easy.parse().choices[0].message.content == "Lima"
    assert easy.headers["x-inferopt-model"] == "gpt-4o-mini"
    assert hard.headers["x-inferopt-model"] == "gpt-4o"
    # The escalated answer paid for three calls, the accepted cheap one for two.
    assert float(hard.headers["x-inferopt-cost-usd"]) > float(easy.headers["x-inferopt-cost-usd"]) > 0
