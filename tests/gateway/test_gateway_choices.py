"""``n`` > 1 on the OpenAI chat route: the gateway fans the call out and merges, plain and streamed,
with the official SDK, answers validated against the spec and the emulator's requests counted."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

USER: Any = [{"role": "user", "content": "Name a colour of the sea."}]


def sdk(gateway: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_base_url, api_key="sk-any", max_retries=0)


def test_n_choices_are_fanned_out_merged_and_cached_per_choice(
    gateway_config: Any, start_gateway: Any, openai_spec: Any
) -> None:
    with EmulatorServer(EmulatorConfig(seed=5, overrides=ProfileOverrides(fixed_latency_s=0.0))) as upstream:
        gateway = start_gateway(config=gateway_config(upstream).with_layer("cache", {"url": "memory://"}))
        ask = {"model": "fast", "messages": USER, "max_tokens": 30, "temperature": 0}
        with sdk(gateway) as client:
            single = client.chat.completions.create(**ask)
            assert upstream.stats.requests_total == 1
            raw = client.chat.completions.with_raw_response.create(**ask, n=3)
            three = raw.parse()
            assert upstream.stats.requests_total == 3  # choice 0 is the cached n=1 answer; 1 and 2 are new
            again = client.chat.completions.create(**ask, n=3)
            two = client.chat.completions.create(**ask, n=2)
        assert upstream.stats.requests_total == 3  # nothing paid twice
    openai_spec(json.loads(raw.http_response.text), "CreateChatCompletionResponse")
    assert [c.index for c in three.choices] == [0, 1, 2]
    assert three.choices[0].message.content == single.choices[0].message.content
    assert all(c.message.content and c.finish_reason for c in three.choices)
    assert [c.message.content for c in again.choices] == [c.message.content for c in three.choices]
    assert [c.message.content for c in two.choices] == [c.message.content for c in three.choices[:2]]
    assert single.usage is not None and three.usage is not None
    assert three.usage.prompt_tokens == 3 * single.usage.prompt_tokens  # each copy's prompt was paid
    # The emulator answers one prompt one way, so each copy generated as many tokens as the single call.
    assert three.usage.completion_tokens == 3 * single.usage.completion_tokens


def test_a_streamed_n_choices_call_interleaves_indexed_chunks_with_one_ending(
    emulator: EmulatorServer, start_gateway: Any, openai_spec: Any
) -> None:
    gateway = start_gateway(emulator)
    ask = {"model": "fast", "messages": USER, "max_tokens": 30, "temperature": 0.7, "n": 2}
    plain = httpx.post(
        gateway.openai_base_url + "/chat/completions", json=ask, headers={"Authorization": "Bearer k"}, timeout=30
    ).json()
    body = {**ask, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream(
        "POST", gateway.openai_base_url + "/chat/completions", json=body, headers={"Authorization": "Bearer k"}
    ) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]" and lines.count("data: [DONE]") == 1
    received = [json.loads(line[6:]) for line in lines[:-1]]
    for chunk in received:
        openai_spec(chunk, "CreateChatCompletionStreamResponse")
    assert len({c["id"] for c in received}) == 1
    texts = {0: "", 1: ""}
    finishes: dict[int, int] = {0: 0, 1: 0}
    for chunk in received:
        for choice in chunk["choices"]:
            texts[choice["index"]] += choice["delta"].get("content") or ""
            finishes[choice["index"]] += choice["finish_reason"] is not None
    assert texts == {i: plain["choices"][i]["message"]["content"] for i in (0, 1)}
    assert finishes == {0: 1, 1: 1}
    usage = [c["usage"] for c in received if c.get("usage")]
    assert len(usage) == 1 and usage[0]["prompt_tokens"] == plain["usage"]["prompt_tokens"]


@pytest.mark.parametrize("n", [0, 129, "2", True])
def test_a_bad_n_is_a_400_naming_it(emulator: EmulatorServer, start_gateway: Any, n: Any) -> None:
    gateway = start_gateway(emulator)
    with sdk(gateway) as client, pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="fast", messages=USER, n=n)
    assert refused.value.param == "n" and "1 to 128" in refused.value.message
