"""OpenAI's flex tier on the emulator over loopback: slower, answered with service_tier flex, sometimes
refused with 429 resource_unavailable; the client prices a flex answer at batch rates."""

import asyncio

import openai
import pytest

from inferopt import AsyncClient
from inferopt.config import Config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.pricing import cost_of
from inferopt.types import Usage


def test_flex_answers_say_so_take_longer_and_are_refused_at_the_configured_rate() -> None:
    overrides = ProfileOverrides(fixed_latency_s=0.005)
    config = EmulatorConfig(seed=5, overrides=overrides, flex_refusal_rate=0.3, flex_latency_factor=2.0)
    with (
        EmulatorServer(config) as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0) as client,
    ):
        plain = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert plain.service_tier == "default"
        refused = answered = 0
        for i in range(60):
            try:
                flex = client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": f"q {i}"}], service_tier="flex"
                )
            except openai.RateLimitError as exc:
                refused += 1
                assert exc.status_code == 429 and exc.code == "resource_unavailable"
                continue
            answered += 1
            assert flex.service_tier == "flex"
        assert server.stats.faults["flex_refused"] == refused
    assert 8 <= refused <= 30 and answered == 60 - refused  # 30% of 60, seeded


def test_a_flex_answer_is_slower_and_costs_half(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEX_TEST_KEY", "sk-test")
    overrides = ProfileOverrides(fixed_latency_s=0.05)
    with EmulatorServer(EmulatorConfig(seed=2, overrides=overrides, flex_latency_factor=3.0)) as server:
        config = Config.model_validate(
            {
                "providers": {
                    "emu": {"kind": "openai", "base_url": server.openai_base_url, "api_key_env": "FLEX_TEST_KEY"}
                }
            }
        )

        async def ask(**extra: object) -> tuple[float, float, int]:
            async with AsyncClient(config) as client:
                response = await client.complete("classify this", model="emu/gpt-4o-mini", max_tokens=5, **extra)
                return response.latency_s or 0.0, response.cost_usd or 0.0, response.usage.input_tokens

        live_s, live_usd, _ = asyncio.run(ask())
        flex_s, flex_usd, tokens = asyncio.run(ask(extra={"service_tier": "flex"}))
    assert flex_s >= 2.5 * 0.05 > live_s
    assert flex_usd == pytest.approx(live_usd / 2)
    assert flex_usd == cost_of(Usage(tokens, 5), "gpt-4o-mini", tier="flex")
