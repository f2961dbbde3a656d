"""A Gemini provider behind the gateway: OpenAI and Anthropic clients reach Gemini models unchanged."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai

from inferopt.config import parse_config
from inferopt.emulator import EmulatorServer

KEY_ENV = "INFEROPT_TEST_UPSTREAM_KEY"


def gemini_config(server: EmulatorServer) -> Any:
    return parse_config(
        {
            "providers": {"google": {"kind": "gemini", "base_url": server.url, "api_key_env": KEY_ENV}},
            "models": {"flash": {"provider": "google", "model": "gemini-2.5-flash"}},
            "default_model": "flash",
        },
        source="test-gemini.yaml",
    )


def test_openai_and_anthropic_sdks_reach_a_gemini_model(emulator: EmulatorServer, start_gateway: Any) -> None:
    gateway = start_gateway(config=gemini_config(emulator))
    routes = ("/v1beta/models:generateContent", "/v1beta/models:streamGenerateContent")
    before = [emulator.stats.by_route[r] for r in routes]
    with openai.OpenAI(base_url=gateway.openai_base_url, api_key="k", max_retries=0) as client:
        answer = client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "Hello"}])
        chunks = list(
            client.chat.completions.create(
                model="flash",
                messages=[{"role": "user", "content": "Hello"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        tools = [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                },
            }
        ]
        called = client.chat.completions.create(
            model="flash", messages=[{"role": "user", "content": "Look up cats"}], tools=tools, tool_choice="required"
        )
    assert answer.choices[0].message.content and answer.usage is not None and answer.usage.prompt_tokens > 0
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == answer.choices[0].message.content  # same model, same prompt, same answer
    (call,) = called.choices[0].message.tool_calls or []
    assert called.choices[0].finish_reason == "tool_calls" and isinstance(json.loads(call.function.arguments)["q"], str)
    with anthropic.Anthropic(base_url=gateway.anthropic_base_url, api_key="k", max_retries=0) as claude:
        message = claude.messages.create(model="flash", max_tokens=50, messages=[{"role": "user", "content": "Hi"}])
    assert message.content[0].type == "text" and message.usage.output_tokens > 0
    after = [emulator.stats.by_route[r] for r in routes]
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 1]  # every call reached Gemini's wire
