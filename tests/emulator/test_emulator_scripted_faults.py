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


def plain(server: EmulatorServer, value: str, read_s: float = 5.0) -> httpx.Response:
    body = {"model": "gpt-4o", "messages": USER}
    headers = {"authorization": "Bearer sk", **fault(value)}
    with httpx.Client(base_url=server.openai_base_url, timeout=httpx.Timeout(5, read=read_s)) as http:
        return http.post("/chat/completions", json=body, headers=headers)


def test_a_reset_and_whole_answers_cut_stalled_late_or_unparseable(server: EmulatorServer) -> None:
    with pytest.raises(httpx.RemoteProtocolError):  # the connection closed with no response at all
        plain(server, "reset")
    with pytest.raises(httpx.RemoteProtocolError):  # the body cut part-way
        plain(server, "drop:0.3")
    with pytest.raises(httpx.ReadTimeout):  # headers and part of the body, then silence
        plain(server, "stall", read_s=0.5)
    broken = plain(server, "malformed")
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    late = plain(server, "slow:0.6")
    assert late.status_code == 200 and late.elapsed.total_seconds() >= 0.6 and late.json()["choices"]


def test_an_instructed_continuation_goes_on_from_the_cut_reply(server: EmulatorServer) -> None:
    from inferopt.rescue import CONTINUE_INSTRUCTION

    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client:
        whole = client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content or ""
        cut = whole[: len(whole) // 2]
        asked: Any = [*USER, {"role": "assistant", "content": cut}, {"role": "user", "content": CONTINUE_INSTRUCTION}]
        rest = client.chat.completions.create(model="gpt-4o", messages=asked)
        assert cut + (rest.choices[0].message.content or "") == whole and rest.choices[0].finish_reason == "stop"
        short = client.chat.completions.create(model="gpt-4o", messages=asked, max_tokens=3)
        assert short.choices[0].finish_reason == "length" and short.usage and short.usage.completion_tokens == 3
