"""A Claude-Code-like session (examples/claude_code_session.py): 20 streamed turns with a cached
system prompt and tools (1-hour TTL), a moving breakpoint, extended thinking and tool calls, whose
thinking blocks go back each turn byte-exact (the emulator checks their signatures), straight at the
emulator and through the gateway: the gateway must change nothing a user can see, usage included."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import anthropic
import pytest

from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

KEY_ENV = "INFEROPT_TEST_UPSTREAM_KEY"  # set by the package's conftest
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "claude_code_session.py"


def example() -> Any:
    spec = importlib.util.spec_from_file_location("claude_code_session", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def claude_gateway(upstream: EmulatorServer, start_gateway: Any, model: str) -> Any:
    provider = {"kind": "anthropic", "base_url": upstream.anthropic_base_url, "api_key_env": KEY_ENV}
    models = {model: {"provider": "claude", "model": model}}
    config = parse_config({"providers": {"claude": provider}, "models": models})
    return start_gateway(config=config)


def emulator() -> EmulatorServer:
    return EmulatorServer(EmulatorConfig(seed=2, overrides=ProfileOverrides(fixed_latency_s=0.0)))


def test_a_coding_agent_session_runs_through_the_gateway_as_it_runs_direct(start_gateway: Any) -> None:
    session = example()
    with emulator() as upstream:
        direct = session.run(anthropic.Anthropic(base_url=upstream.anthropic_base_url, api_key="k"), 20)
    with emulator() as upstream:
        gateway = claude_gateway(upstream, start_gateway, session.MODEL)
        through = session.run(anthropic.Anthropic(base_url=gateway.anthropic_base_url, api_key="k"), 20)
        assert upstream.stats.requests_total == 20
    print("\n" + session.report(through))
    assert through.turns == 20 and through.thinking_blocks == 20 and through.tool_calls >= 5
    assert through.usage == direct.usage and through.cost_usd == pytest.approx(direct.cost_usd)
    assert through.cache_read_share > 0.85  # the system prompt and tools are read, not re-sent
    assert 0 < through.usage.cache_write_1h_tokens < through.usage.cache_write_tokens  # both lifetimes
    assert through.cost_usd > 0


def test_a_changed_thinking_block_is_refused_through_the_gateway(start_gateway: Any) -> None:
    ask: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    with emulator() as upstream:
        gateway = claude_gateway(upstream, start_gateway, ask["model"])
        client = anthropic.Anthropic(base_url=gateway.anthropic_base_url, api_key="k")
        first = client.messages.create(**ask, messages=[{"role": "user", "content": "Plan the change."}])
        blocks = [b.model_dump(exclude_none=True) for b in first.content]
        assert blocks[0]["type"] == "thinking" and blocks[0]["signature"]
        turn = [{"role": "user", "content": "Plan the change."}, {"role": "assistant", "content": blocks}]
        kept = client.messages.create(**ask, messages=[*turn, {"role": "user", "content": "Go on."}])
        assert kept.content[0].type == "thinking"
        blocks[0]["thinking"] += " (edited)"
        with pytest.raises(anthropic.BadRequestError) as refused:
            client.messages.create(**ask, messages=[*turn, {"role": "user", "content": "Go on."}])
        assert "Invalid `signature` in `thinking` block" in refused.value.message
        with pytest.raises(anthropic.BadRequestError) as budget:
            client.messages.create(**{**ask, "max_tokens": 1024}, messages=[{"role": "user", "content": "x"}])
        assert "greater than `thinking.budget_tokens`" in budget.value.message
