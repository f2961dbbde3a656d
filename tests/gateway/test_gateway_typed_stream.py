"""Tool-call fragments and thinking reach the client as they stream, through both dialects' SDKs."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai

from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest, ChatResponse, ThinkingPart, Usage

CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris, France"}'},
}
THINKING = ThinkingPart("The user wants the weather: call the tool.", "c2lnbmF0dXJl/+==")


def answer(request: ChatRequest) -> ChatResponse:
    return ChatResponse(
        "r1",
        request.model,
        "Checking.",
        Usage(20, 12),
        "tool_calls",
        provider="fn",
        provider_stop_reason="tool_use",
        tool_calls=[CALL],
        thinking=[THINKING],
    )


def test_openai_sdk_gets_tool_call_fragments_before_the_finish(start_gateway: Any) -> None:
    gateway = start_gateway(models={"gpt-4o-mini": FunctionModel(answer, chunk_size=6)})
    client = openai.OpenAI(base_url=gateway.openai_base_url, api_key="x")
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "weather?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    fragments = [c.choices[0].delta.tool_calls[0] for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert len(fragments) > 2  # relayed piece by piece, not merged at the end
    assert fragments[0].id == "call_1" and fragments[0].function.name == "get_weather"
    assert json.loads("".join(f.function.arguments or "" for f in fragments)) == {"city": "Paris, France"}
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish[0].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12


def test_anthropic_sdk_gets_thinking_with_its_signature_and_tool_input(start_gateway: Any) -> None:
    gateway = start_gateway(models={"gpt-4o-mini": FunctionModel(answer, chunk_size=6)})
    client = anthropic.Anthropic(base_url=gateway.anthropic_base_url, api_key="x")
    kinds: list[str] = []
    with client.messages.stream(
        model="gpt-4o-mini", max_tokens=200, messages=[{"role": "user", "content": "weather?"}]
    ) as stream:
        for event in stream:
            if event.type == "content_block_delta":
                kinds.append(event.delta.type)
        final = stream.get_final_message()
    assert kinds.count("thinking_delta") > 1 and kinds.count("input_json_delta") > 1
    assert kinds.index("thinking_delta") < kinds.index("text_delta") < kinds.index("input_json_delta")
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[0].signature == THINKING.signature  # byte-exact, for the next turn
    assert final.content[2].input == {"city": "Paris, France"} and final.stop_reason == "tool_use"
    plain = client.messages.create(
        model="gpt-4o-mini", max_tokens=200, messages=[{"role": "user", "content": "weather?"}]
    )
    assert plain.content[0].type == "thinking" and plain.content[0].signature == THINKING.signature
