"""``n`` > 1 against the emulator: n different choices, the prompt billed once, plain and streamed, spec-valid."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai

from inferopt.emulator import EmulatorServer

USER: Any = [{"role": "user", "content": "Name a fruit."}]


def test_n_choices_plain_and_streamed_with_the_real_sdk(server: EmulatorServer, openai_spec: Any) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-n-test", max_retries=0) as client:
        three = client.chat.completions.create(model="gpt-4o-mini", messages=USER, n=3, max_tokens=12)
        one = client.chat.completions.create(model="gpt-4o-mini", messages=USER, max_tokens=12)
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=USER,
                n=3,
                max_tokens=12,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    texts = [c.message.content for c in three.choices]
    assert [c.index for c in three.choices] == [0, 1, 2] and len(set(texts)) == 3
    assert texts[0] == one.choices[0].message.content  # choice 0 is what n=1 answers
    assert three.usage is not None and one.usage is not None
    assert three.usage.prompt_tokens == one.usage.prompt_tokens  # the prompt is billed once
    assert three.usage.completion_tokens == 3 * one.usage.completion_tokens  # max_tokens cut every choice
    openai_spec(three.model_dump(mode="json", exclude_unset=True), "CreateChatCompletionResponse")
    streamed: dict[int, str] = {}
    finished = set()
    for chunk in chunks:
        for choice in chunk.choices:
            streamed[choice.index] = streamed.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason:
                finished.add(choice.index)
        openai_spec(chunk.model_dump(mode="json", exclude_unset=True), "CreateChatCompletionStreamResponse")
    assert [streamed[i] for i in range(3)] == texts and finished == {0, 1, 2}
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == three.usage.completion_tokens


def test_n_out_of_range_is_a_400_naming_n(server: EmulatorServer) -> None:
    body = {"model": "gpt-4o-mini", "messages": USER, "n": 129}
    answer = httpx.post(f"{server.openai_base_url}/chat/completions", json=body, headers={"Authorization": "Bearer k"})
    assert answer.status_code == 400 and json.loads(answer.text)["error"]["param"] == "n"
