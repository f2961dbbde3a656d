"""Extended thinking from the emulator, as the anthropic SDK sees it: a signed thinking block before
the text, streamed as thinking_delta pieces and one signature_delta, billed as output tokens; the
rules the real API enforces with thinking on answer 400s in its words."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

ASK: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 2000,
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "messages": [{"role": "user", "content": "Why is the sea salty?"}],
}


@pytest.fixture(scope="module")
def client() -> Iterator[anthropic.Anthropic]:
    with EmulatorServer(EmulatorConfig(seed=4, overrides=ProfileOverrides(fixed_latency_s=0.0))) as server:
        yield anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="k", max_retries=0)


def test_a_thinking_answer_streams_its_thought_then_its_text(client: anthropic.Anthropic) -> None:
    plain = client.messages.create(**ASK)
    without = client.messages.create(**{k: v for k, v in ASK.items() if k != "thinking"})
    with client.messages.stream(**ASK) as stream:
        kinds = [e.delta.type for e in stream if e.type == "content_block_delta"]
        final = stream.get_final_message()
    assert [b.type for b in plain.content] == ["thinking", "text"]
    assert final.content[0].model_dump() == plain.content[0].model_dump()  # same thought, same signature
    assert kinds.count("thinking_delta") > 1 and kinds.count("signature_delta") == 1
    assert kinds.index("signature_delta") < kinds.index("text_delta")
    assert plain.usage.output_tokens > without.usage.output_tokens  # the thought is billed as output


def test_adaptive_thinking_and_a_tool_call_interleave(client: anthropic.Anthropic) -> None:
    tool = {"name": "lookup", "description": "Look a fact up.", "input_schema": {"type": "object"}}
    answer = client.messages.create(**{**ASK, "thinking": {"type": "adaptive"}, "tools": [tool]})
    assert [b.type for b in answer.content] == ["thinking", "tool_use"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 100}}, "greater than or equal to 1024"),
        ({"max_tokens": 1024}, "greater than `thinking.budget_tokens`"),
        ({"extra_body": {"temperature": 0.2}}, "`temperature` may only be set to 1"),
        ({"tools": [{"name": "t", "input_schema": {"type": "object"}}], "tool_choice": {"type": "any"}}, "forces"),
    ],
)
def test_what_thinking_forbids_is_a_400(client: anthropic.Anthropic, change: dict[str, Any], words: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(**{**ASK, **change})
    assert words in refused.value.message
