"""Injected faults, determinism under a seed, and latency."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, FaultConfig, ProfileOverrides

FAST = ProfileOverrides(fixed_latency_s=0.0)
USER: Any = [{"role": "user", "content": "Tell me about the sea."}]


def test_error_rate_one_gives_500s_the_sdk_raises() -> None:
    with (
        EmulatorServer(EmulatorConfig(overrides=FAST, faults=FaultConfig(error_rate=1.0))) as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client,
    ):
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=USER)
        assert caught.value.status_code == 500
        assert server.stats.errors == 1 and server.stats.faults["error"] == 1


def is_connection_drop(exc: BaseException) -> bool:
    """The SDKs surface a cut stream as their transport's protocol error (their own httpx build)."""
    return isinstance(exc, openai.APIError | anthropic.APIError) or type(exc).__name__ in (
        "RemoteProtocolError",
        "ReadError",
    )


def test_dropped_stream_ends_without_its_final_event() -> None:
    faults = FaultConfig(drop_rate=1.0)
    config = EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.2), faults=faults)
    with EmulatorServer(config) as server:
        with openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client:
            stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
            received: list[Any] = []
            with pytest.raises(Exception) as cut:
                for chunk in stream:
                    received.append(chunk)
            assert is_connection_drop(cut.value)
            assert received and all(c.choices[0].finish_reason is None for c in received)
            with pytest.raises(openai.APIConnectionError):
                client.chat.completions.create(model="gpt-4o", messages=USER)  # cut mid-body
        with anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="k", max_retries=0) as claude:
            events: list[str] = []
            with pytest.raises(Exception) as cut:
                for event in claude.messages.create(
                    model="claude-haiku-4-5", max_tokens=200, messages=USER, stream=True
                ):
                    events.append(event.type)
            assert is_connection_drop(cut.value)
            assert "message_start" in events and "message_stop" not in events


def test_hang_is_a_timeout_for_the_client() -> None:
    with (
        EmulatorServer(EmulatorConfig(overrides=FAST, faults=FaultConfig(hang_rate=1.0))) as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0, timeout=0.3) as client,
    ):
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="gpt-4o", messages=USER)
        assert 0.3 <= time.monotonic() - started < 2


def test_rate_limit_burst_refuses_the_key_for_the_burst() -> None:
    faults = FaultConfig(rate_limit_rate=1.0, rate_limit_burst_s=5.0)
    with (
        EmulatorServer(EmulatorConfig(overrides=FAST, faults=faults)) as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client,
    ):
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=USER)
        assert caught.value.response.headers["retry-after"] == "5"


def test_faults_are_drawn_per_occurrence_so_retries_can_succeed() -> None:
    config = EmulatorConfig(seed=3, overrides=FAST, faults=FaultConfig(error_rate=0.5))
    outcomes: list[list[int]] = []
    for _ in range(2):
        with EmulatorServer(config) as server, httpx.Client(base_url=server.openai_base_url) as http:
            body = {"model": "gpt-4o", "messages": USER}
            auth = {"authorization": "Bearer sk"}
            outcomes.append([http.post("/chat/completions", json=body, headers=auth).status_code for _ in range(20)])
    assert outcomes[0] == outcomes[1]  # the same seed replays the same sequence
    assert {200, 500} == set(outcomes[0])  # identical requests still get fresh draws


def ask(server: EmulatorServer, model: str = "gpt-4o") -> tuple[str, Any]:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client:
        completion = client.chat.completions.create(model=model, messages=USER)
    return completion.choices[0].message.content or "", completion.usage


def test_same_seed_same_answers_and_usage_different_seed_different_text() -> None:
    with (
        EmulatorServer(EmulatorConfig(seed=11, overrides=FAST)) as one,
        EmulatorServer(EmulatorConfig(seed=11, overrides=FAST)) as two,
        EmulatorServer(EmulatorConfig(seed=12, overrides=FAST)) as other,
    ):
        assert ask(one) == ask(two)
        assert ask(one, "o3") == ask(two, "o3")
        assert ask(one)[0] != ask(other)[0]
        assert ask(one)[0] != ask(one, "o3")[0]


async def test_answers_do_not_depend_on_concurrency_or_order() -> None:
    prompts = [f"question number {i}" for i in range(20)]
    results: list[dict[str, str]] = []
    for order in (prompts, list(reversed(prompts))):
        speed = ProfileOverrides(ttft_s=0.02, tokens_per_s=2000, jitter=0.5)
        with EmulatorServer(EmulatorConfig(seed=5, overrides=speed)) as server:
            async with openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client:
                replies = await asyncio.gather(
                    *(
                        client.chat.completions.create(
                            model="gpt-4.1-nano", max_tokens=20, messages=[{"role": "user", "content": p}]
                        )
                        for p in order
                    )
                )
            results.append({p: r.choices[0].message.content or "" for p, r in zip(order, replies, strict=True)})
    assert results[0] == results[1]


def test_fixed_latency_is_honoured() -> None:
    config = EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.2))
    with (
        EmulatorServer(config) as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client,
    ):
        client.models.list()  # connection set up outside the timing
        started = time.monotonic()
        client.chat.completions.create(model="gpt-4o", messages=USER)
        plain = time.monotonic() - started
        started = time.monotonic()
        chunks = list(client.chat.completions.create(model="gpt-4o", messages=USER, stream=True))
        streamed = time.monotonic() - started
    assert 0.2 <= plain < 0.6
    assert 0.2 <= streamed < 0.6 and len(chunks) > 3


def test_profile_speed_paces_the_stream() -> None:
    """TTFT then tokens/s: the first piece comes at the TTFT, the last near the total."""
    config = EmulatorConfig(overrides=ProfileOverrides(ttft_s=0.1, tokens_per_s=200, jitter=0.0))
    with (
        EmulatorServer(config) as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client,
    ):
        client.models.list()
        started = time.monotonic()
        stream = client.chat.completions.create(
            model="gpt-4o", messages=USER, max_tokens=40, stream=True, stream_options={"include_usage": True}
        )
        arrivals = [(time.monotonic() - started, chunk) for chunk in stream]
    first_text = next(t for t, c in arrivals if c.choices and c.choices[0].delta.content)
    usage = arrivals[-1][1].usage
    assert usage is not None
    expected_total = 0.1 + usage.completion_tokens / 200
    assert 0.1 <= first_text < 0.1 + 0.15
    assert expected_total <= arrivals[-1][0] < expected_total + 0.3


def test_subprocess_emulator_serves_and_reports_stats() -> None:
    with (
        EmulatorServer(EmulatorConfig(seed=11, overrides=FAST), subprocess=True) as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client,
    ):
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)
        assert completion.system_fingerprint == "inferopt-emulator"
        snapshot = server.stats_snapshot()
        assert snapshot["by_model"] == {"gpt-4o": 1}
        assert snapshot["process_cpu_s"] > 0  # CPU of the emulator process, for load tests
        with pytest.raises(RuntimeError, match="stats_snapshot"):
            _ = server.stats
    with EmulatorServer(EmulatorConfig(seed=11, overrides=FAST)) as in_thread:
        assert ask(in_thread) == (completion.choices[0].message.content, completion.usage)
