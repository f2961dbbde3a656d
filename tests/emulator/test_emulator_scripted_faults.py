"""Faults scripted per request with the ``x-emulator-fault`` header: what a test needs to stage a failure."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

USER: Any = [{"role": "user", "content": "Tell me about the sea."}]


@pytest.fixture(scope="module")
def server() -> Any:
    with EmulatorServer(EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.05))) as running:
        yield running


def fault(value: str) -> dict[str, str]:
    return {"x-emulator-fault": value}


def test_a_script_plays_in_order_then_repeats_its_last_step(server: EmulatorServer) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client:
        for _ in range(2):
            with pytest.raises(openai.RateLimitError) as limited:
                client.chat.completions.create(model="gpt-4o", messages=USER, extra_headers=fault("429:7*2,ok"))
            assert limited.value.response.headers["retry-after"] == "7"
        for _ in range(2):
            answer = client.chat.completions.create(model="gpt-4o", messages=USER, extra_headers=fault("429:7*2,ok"))
            assert answer.choices[0].message.content
        with pytest.raises(openai.RateLimitError) as bare:
            client.chat.completions.create(model="gpt-4o", messages=USER, extra_headers=fault("429"))
        assert "retry-after" not in bare.value.response.headers
        with pytest.raises(openai.BadRequestError) as filtered:
            client.chat.completions.create(model="gpt-4o", messages=USER, extra_headers=fault("content_filter"))
        assert filtered.value.code == "content_filter"
        with pytest.raises(openai.BadRequestError, match="known kinds"):
            client.chat.completions.create(model="gpt-4o", messages=USER, extra_headers=fault("explode"))


def test_server_errors_and_prefill_refusal_on_the_anthropic_wire(server: EmulatorServer) -> None:
    with anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="k", max_retries=0) as claude:
        with pytest.raises(anthropic.APIStatusError) as overloaded:
            claude.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=USER, extra_headers=fault("529"))
        assert overloaded.value.status_code == 529 and "overloaded" in str(overloaded.value)
        prefilled: Any = [*USER, {"role": "assistant", "content": "The sea"}]
        with pytest.raises(anthropic.BadRequestError, match="prefill"):
            claude.messages.create(
                model="claude-haiku-4-5", max_tokens=50, messages=prefilled, extra_headers=fault("no_prefill")
            )
        plain = claude.messages.create(
            model="claude-haiku-4-5", max_tokens=50, messages=USER, extra_headers=fault("no_prefill")
        )
        assert plain.content


def stream_bytes(server: EmulatorServer, value: str) -> bytes:
    body = {"model": "gpt-4o", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}
    headers = {"authorization": "Bearer sk", **fault(value)}
    with httpx.Client(base_url=server.openai_base_url, timeout=5) as http:
        return http.post("/chat/completions", json=body, headers=headers).content


def test_stream_faults_a_missing_done_an_error_event_and_a_malformed_chunk(server: EmulatorServer) -> None:
    healthy = stream_bytes(server, "ok")
    assert healthy.endswith(b"data: [DONE]\n\n")
    no_done = stream_bytes(server, "no_done")
    assert b'"finish_reason":"stop"' in no_done and b"[DONE]" not in no_done and b'"usage":{' in no_done
    failed = stream_bytes(server, "error_event:0.5")
    assert b'"error":{' in failed and b'finish_reason":"stop' not in failed
    malformed = stream_bytes(server, "malformed")
    assert b"data: {this is not json" in malformed and malformed.endswith(b"data: [DONE]\n\n")


def test_a_stall_is_silence_after_part_of_the_answer(server: EmulatorServer) -> None:
    received = b""
    with pytest.raises(httpx.ReadTimeout):
        body = {"model": "gpt-4o", "messages": USER, "stream": True}
        with (
            httpx.Client(base_url=server.openai_base_url, timeout=httpx.Timeout(5, read=0.5)) as http,
            http.stream(
                "POST", "/chat/completions", json=body, headers={"authorization": "Bearer sk", **fault("stall")}
            ) as response,
        ):
            for chunk in response.iter_bytes():
                received += chunk
    assert b'"content":"' in received and b"[DONE]" not in received
