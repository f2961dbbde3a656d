"""Message Batches carry Claude Code-shaped requests: thinking, tools and cache breakpoints, at half price."""

from __future__ import annotations

from typing import Any

import pytest

from inferopt.emulator import EmulatorServer
from inferopt.parallel.batch_api import AnthropicBatch, BatchJobs
from inferopt.pricing import cost_of
from inferopt.providers.base import Provider
from inferopt.types import ChatRequest, Message

DELAY_S = 600.0
MODEL = "claude-sonnet-4-5"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file of the repository",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        },
    }
]
SYSTEM = "You are a coding agent. " + "Follow the repository's conventions closely. " * 200


def request(i: int, *, tools: bool) -> ChatRequest:
    system = Message("system", [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral", "ttl": "1h"}}])
    return ChatRequest(
        model=MODEL,
        messages=[system, Message("user", f"Fix the failing test number {i}.")],
        max_tokens=3000,
        tools=TOOLS if tools else None,
        tool_choice="required" if tools else None,
        extra={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    )


async def test_batched_thinking_tool_calls_and_cache_writes_come_back_priced_at_half(
    server: EmulatorServer, clock: Any
) -> None:
    api = AnthropicBatch(Provider("anthropic", server.anthropic_base_url, api_key="sk-ant-batch-thinking"))
    jobs = BatchJobs(api, provider_name="anthropic")
    try:
        job = await jobs.submit([(f"t{i}", request(i, tools=i % 2 == 0)) for i in range(6)])
        clock.advance(DELAY_S)
        results = await jobs.results(job)
    finally:
        await api.aclose()
    answered = [r for r in results if r.response is not None]
    assert answered, [r.error for r in results]
    for result in answered:
        response = result.response
        assert response is not None
        (thought,) = response.thinking or []
        assert thought.text and thought.signature  # the block and its signature, as the live API sends
        if int(result.custom_id[1:]) % 2 == 0:
            (call,) = response.tool_calls or []
            assert call["function"]["name"] == "read_file" and response.finish_reason == "tool_calls"
        assert response.usage.cache_write_tokens + response.usage.cache_read_tokens > 1000  # the system prompt
        assert response.cost_usd == pytest.approx(cost_of(response.usage, MODEL, batch=True))
        assert response.cost_usd == pytest.approx(cost_of(response.usage, MODEL) / 2)  # cache writes halved too
