"""Every OpenAI-wire answer, over real HTTP, validated against the official spec: plain, each streamed
chunk, each error and the model list, from the gateway and from the emulator it fronts."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from inferopt.emulator import EmulatorServer

USER = [{"role": "user", "content": "Say something short."}]


def chunks(response: httpx.Response) -> list[dict[str, Any]]:
    out = []
    for line in response.iter_lines():
        if line.startswith("data: ") and line != "data: [DONE]":
            out.append(json.loads(line[6:]))
    return out


@pytest.fixture(params=["gateway", "emulator"])
def base_url(request: pytest.FixtureRequest, emulator: EmulatorServer, start_gateway: Any) -> str:
    if request.param == "emulator":
        return emulator.openai_base_url
    return str(start_gateway(emulator).openai_base_url)


def test_plain_answers_validate(base_url: str, openai_spec: Any) -> None:
    headers = {"Authorization": "Bearer sk-test"}
    for body in (
        {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 20},
        {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 20, "logprobs": True, "top_logprobs": 2},
    ):
        response = httpx.post(base_url + "/chat/completions", json=body, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        openai_spec(response.json(), "CreateChatCompletionResponse")


def test_every_streamed_chunk_validates(base_url: str, openai_spec: Any) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": USER,
        "max_tokens": 20,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream(
        "POST", base_url + "/chat/completions", json=body, headers={"Authorization": "Bearer sk-test"}, timeout=30
    ) as response:
        assert response.status_code == 200
        received = chunks(response)
    assert len(received) > 2 and received[-1]["usage"]["completion_tokens"] > 0
    for chunk in received:
        openai_spec(chunk, "CreateChatCompletionStreamResponse")


def test_errors_and_the_model_list_validate(base_url: str, openai_spec: Any) -> None:
    headers = {"Authorization": "Bearer sk-test"}
    bad = httpx.post(base_url + "/chat/completions", json={"model": "gpt-4o-mini"}, headers=headers, timeout=30)
    assert bad.status_code == 400
    openai_spec(bad.json(), "ErrorResponse")
    unknown = {"model": "no-such-model", "messages": USER}
    missing = httpx.post(base_url + "/chat/completions", json=unknown, headers=headers, timeout=30)
    assert missing.status_code == 404
    openai_spec(missing.json(), "ErrorResponse")
    models = httpx.get(base_url + "/models", headers=headers, timeout=30)
    assert models.status_code == 200
    openai_spec(models.json(), "ListModelsResponse")
