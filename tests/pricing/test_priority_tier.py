"""OpenAI's priority tier: priced at its published premium, end to end through the emulator and the adapter."""

import asyncio

import pytest

from inferopt import AsyncClient
from inferopt.config import Config
from inferopt.emulator import EmulatorConfig, EmulatorServer
from inferopt.errors import PricingError
from inferopt.pricing import cost_of
from inferopt.types import Usage


def test_priority_is_priced_at_openais_published_rates_cached_reads_included() -> None:
    usage = Usage(input_tokens=2_000_000, output_tokens=1_000_000, cache_read_tokens=1_000_000)
    # gpt-4o-mini priority: $0.25 input, $0.125 cached input, $1.00 output per 1M
    assert cost_of(usage, "gpt-4o-mini", tier="priority") == pytest.approx(0.25 + 0.125 + 1.00)
    assert cost_of(usage, "gpt-4o-mini", tier="priority") > cost_of(usage, "gpt-4o-mini")


def test_a_model_without_a_priority_price_says_so_and_how_to_go_on() -> None:
    with pytest.raises(PricingError, match=r"no priority-tier price for model 'claude-haiku-4-5'.*standard tier"):
        cost_of(Usage(10, 10), "claude-haiku-4-5", tier="priority")


def test_an_answer_served_on_priority_is_billed_at_priority_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIORITY_TEST_KEY", "sk-test")
    with EmulatorServer(EmulatorConfig(seed=2)) as server:
        provider = {"kind": "openai", "base_url": server.openai_base_url, "api_key_env": "PRIORITY_TEST_KEY"}
        config = Config.model_validate({"providers": {"emu": provider}})

        async def ask() -> tuple[float, Usage]:
            async with AsyncClient(config) as client:
                answer = await client.complete(
                    "classify this", model="emu/gpt-4o-mini", max_tokens=5, extra={"service_tier": "priority"}
                )
                return answer.cost_usd or 0.0, answer.usage

        usd, usage = asyncio.run(ask())
    assert usd == pytest.approx(cost_of(usage, "gpt-4o-mini", tier="priority"))
    assert usd > cost_of(usage, "gpt-4o-mini")
