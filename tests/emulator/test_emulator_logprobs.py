"""Token log-probabilities from the emulator, read by the official openai SDK, plain and streamed."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

USER: Any = [{"role": "user", "content": "Describe a quiet harbour at dawn."}]


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=11, overrides=ProfileOverrides(fixed_latency_s=0.0))) as running:
        yield running


@pytest.fixture
def client(server: EmulatorServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-emu", max_retries=0) as sdk:
        yield sdk


def test_logprobs_cover_every_token_with_the_asked_alternatives(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, max_tokens=40, logprobs=True, top_logprobs=3
    )
    choice = answer.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content
    entries = choice.logprobs.content
    assert "".join(e.token for e in entries) == choice.message.content
    for entry in entries:
        assert entry.logprob <= 0 and bytes(entry.bytes or []) == entry.token.encode()
        assert len(entry.top_logprobs) == 3 and entry.top_logprobs[0].token == entry.token
        assert sorted((t.logprob for t in entry.top_logprobs), reverse=True) == [t.logprob for t in entry.top_logprobs]
    mean_p = math.exp(sum(e.logprob for e in entries) / len(entries))
    assert 0.05 < mean_p < 1.0


def test_streamed_logprobs_equal_the_plain_ones(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model="gpt-4o-mini", messages=USER, max_tokens=40, logprobs=True)
    streamed = []
    text = ""
    for chunk in client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, max_tokens=40, logprobs=True, stream=True
    ):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            if choice.logprobs is not None and choice.logprobs.content:
                streamed += [(e.token, e.logprob) for e in choice.logprobs.content]
    assert plain.choices[0].logprobs is not None and plain.choices[0].logprobs.content is not None
    assert streamed == [(e.token, e.logprob) for e in plain.choices[0].logprobs.content]
    assert text == plain.choices[0].message.content
    assert all(e.top_logprobs == [] for e in plain.choices[0].logprobs.content)  # none asked: empty lists


def test_without_logprobs_there_are_none_and_bad_asks_are_refused(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model="gpt-4o-mini", messages=USER, max_tokens=5)
    assert plain.choices[0].logprobs is None
    with pytest.raises(openai.BadRequestError, match="only allowed when 'logprobs' is true"):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER, max_tokens=5, top_logprobs=2)
    with pytest.raises(openai.BadRequestError, match="from 0 to 20"):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER, max_tokens=5, logprobs=True, top_logprobs=21)
