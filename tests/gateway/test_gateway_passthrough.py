"""What an OpenAI client sends reaches an OpenAI upstream, and what the upstream answers reaches the client.

The real ``openai`` SDK through the gateway to the emulator; the emulator keeps the last body it
received, so each field is checked where it arrived, not only in the answer.
"""

from __future__ import annotations

import json
from typing import Any

import openai

from inferopt.emulator import EmulatorServer

ROUTE = "/v1/chat/completions"


def test_every_2026_chat_field_reaches_the_upstream_and_comes_back(
    emulator: EmulatorServer, start_gateway: Any, openai_spec: Any
) -> None:
    gateway = start_gateway(emulator)
    messages: Any = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Name a fruit."}]
    with openai.OpenAI(base_url=gateway.openai_base_url, api_key="k", max_retries=0) as client:
        answer = client.chat.completions.create(
            model="smart",
            messages=messages,
            max_completion_tokens=12,
            seed=7,
            service_tier="flex",
            metadata={"team": "search"},
            prediction={"type": "content", "content": "An apple."},
            logprobs=True,
            top_logprobs=2,
            user="user-42",
        )
    sent = json.loads(emulator.stats.last_body[ROUTE])
    assert sent["model"] == "gpt-4o" and sent["max_tokens"] == 12  # gpt-4o's own field for the limit
    assert (sent["seed"], sent["service_tier"], sent["metadata"], sent["user"]) == (
        7,
        "flex",
        {"team": "search"},
        "user-42",
    )
    assert sent["prediction"] == {"type": "content", "content": "An apple."}
    assert sent["logprobs"] is True and sent["top_logprobs"] == 2
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}  # every upstream knows system
    assert answer.service_tier == "flex" and answer.system_fingerprint == "inferopt-emulator"
    assert answer.choices[0].logprobs is not None and answer.choices[0].logprobs.content
    openai_spec(answer.model_dump(mode="json", exclude_unset=True), "CreateChatCompletionResponse")


def test_a_reasoning_model_gets_max_completion_tokens_and_effort(emulator: EmulatorServer, start_gateway: Any) -> None:
    gateway = start_gateway(emulator)
    with openai.OpenAI(base_url=gateway.openai_base_url, api_key="k", max_retries=0) as client:
        client.chat.completions.create(
            model="emu/o4-mini",
            messages=[{"role": "user", "content": "Think, then name a fruit."}],
            max_tokens=50,  # the legacy field from the client, translated for a reasoning model
            reasoning_effort="low",
        )
    sent = json.loads(emulator.stats.last_body[ROUTE])
    assert sent["max_completion_tokens"] == 50 and "max_tokens" not in sent and sent["reasoning_effort"] == "low"
