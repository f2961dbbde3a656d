"""The emulator answers through the product's own codecs; its one fast template is byte-equal to them.

A plain ``chat.completion`` is rendered from a template on the load-test hot path. These tests
plan real requests (short, long enough to read the prompt cache, cut by ``max_tokens``, cut by a
stop sequence, non-ASCII) and compare the template's bytes with the codec's, so the two can never
drift apart; and they check that what the emulator decodes is what the codec decodes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from inferopt.emulator import calls, wire_anthropic, wire_openai
from inferopt.emulator.config import EmulatorConfig
from inferopt.emulator.engine import Engine, ParsedCall, Plan, tenant_of
from inferopt.emulator.profiles import ProfileOverrides
from inferopt.wire import anthropic_messages, openai_chat

LONG = " ".join(f"Clause {i} of the standing instructions says to answer plainly." for i in range(200))
BODIES: list[dict[str, Any]] = [
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi"}]},
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": 'Déjà vu — 東京 ✓ "quoted"\n'}]},
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Write a long essay"}], "max_tokens": 3},
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Write a story"}], "stop": [" the", " a"]},
    {"model": "gpt-4o", "messages": [{"role": "system", "content": LONG}, {"role": "user", "content": "Go"}]},
]


def _plan(engine: Engine, body: dict[str, Any], provider: str = "openai") -> tuple[ParsedCall, Plan]:
    call = calls.openai_call(body) if provider == "openai" else calls.anthropic_call(body)
    assert isinstance(call, ParsedCall), call
    plan = engine.plan(provider, call, tenant_of("sk-test"))  # type: ignore[arg-type]
    assert isinstance(plan, Plan), plan
    return call, plan


@pytest.fixture
def engine() -> Engine:
    return Engine(EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0)))


@pytest.mark.parametrize("body", BODIES, ids=["short", "unicode", "length", "stop", "long"])
def test_plain_template_is_byte_equal_to_the_codec(engine: Engine, body: dict[str, Any]) -> None:
    for _ in range(2):  # the second time the long prompt is read from the prompt cache
        _, plan = _plan(engine, body)
        fast = wire_openai.completion_body(plan, "chatcmpl-emu-abc1", 1_765_000_000)
        assert fast == wire_openai.codec_body(plan, "chatcmpl-emu-abc1", 1_765_000_000)
    decoded = openai_chat.decode_response(json.loads(fast), "unused")
    assert decoded.content == plan.answer.text and decoded.usage.output_tokens == plan.answer.output_tokens
    if body is BODIES[-1]:
        assert decoded.usage.cache_read_tokens > 0  # the cached case was exercised, not skipped
    if "max_tokens" in body:
        assert decoded.finish_reason == "length"


def test_the_emulator_decodes_requests_as_the_codec_does(engine: Engine) -> None:
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    body = {**BODIES[0], "tools": tools, "tool_choice": "required", "temperature": 0.2, "seed": 7}
    call, _ = _plan(engine, body)
    assert call.request == openai_chat.decode_request(body)
    anthropic_body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 50,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "Hi"}],
    }
    call, _ = _plan(engine, anthropic_body, "anthropic")
    assert call.request == anthropic_messages.decode_request(anthropic_body)


def test_a_tool_results_cache_breakpoint_is_kept_and_read_on_the_next_turn(engine: Engine) -> None:
    """Coding agents mark the last tool result with ``cache_control``; the codec keeps it (it used to drop it)."""
    turn = [
        {"role": "user", "content": "Read the file."},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read", "input": {"p": "a"}}]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": LONG, "cache_control": {"type": "ephemeral"}}
            ],
        },
    ]
    first = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": turn}
    _, plan = _plan(engine, first, "anthropic")
    assert plan.cache.written > 1000 and plan.cache.read == 0
    following = {
        **first,
        "messages": [*turn, {"role": "assistant", "content": "Done."}, {"role": "user", "content": "Next"}],
    }
    _, plan = _plan(engine, following, "anthropic")
    assert plan.cache.read > 1000
    sent = anthropic_messages.encode_request(anthropic_messages.decode_request(first), stream=False)
    assert sent["messages"][2]["content"][0]["cache_control"] == {"type": "ephemeral"}  # forwarded upstream too
    message = json.loads(wire_anthropic.message_body(plan, "msg_emu_1"))
    assert message["usage"]["cache_read_input_tokens"] == plan.cache.read
