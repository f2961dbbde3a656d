"""SSE relay: pieces arrive as generated, a hang-up cancels upstream, a broken upstream is never a clean 200."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, FaultConfig, ProfileOverrides
from inferopt.testing import wait_for

USER: Any = [{"role": "user", "content": "Tell me a long story about the sea."}]


def test_pieces_reach_the_client_while_the_upstream_is_still_generating(start_gateway: Any) -> None:
    # 80 tokens/s: a 60-token answer takes ~0.75 s upstream; the first piece must arrive long before.
    config = EmulatorConfig(overrides=ProfileOverrides(ttft_s=0.05, tokens_per_s=80, jitter=0.0))
    with EmulatorServer(config) as upstream:
        gateway = start_gateway(upstream)
        body = {"model": "fast", "messages": USER, "max_tokens": 60, "stream": True}
        warm_up = {**body, "max_tokens": 1, "stream": False}  # first-call costs (token tables) out of the timing
        assert httpx.post(gateway.openai_base_url + "/chat/completions", json=warm_up, timeout=30).status_code == 200
        started = time.perf_counter()
        arrivals: list[float] = []
        with httpx.stream("POST", gateway.openai_base_url + "/chat/completions", json=body, timeout=30) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    arrivals.append(time.perf_counter() - started)
    assert len(arrivals) > 5
    assert arrivals[1] < 0.6 * arrivals[-1]  # not buffered: early pieces came well before the last


def test_client_hang_up_cancels_the_upstream_stream(start_gateway: Any) -> None:
    config = EmulatorConfig(overrides=ProfileOverrides(ttft_s=0.02, tokens_per_s=20, jitter=0.0))
    with EmulatorServer(config) as upstream:
        gateway = start_gateway(upstream)
        body = {"model": "fast", "messages": USER, "max_tokens": 400, "stream": True}  # ~20 s if read to the end
        with httpx.stream("POST", gateway.openai_base_url + "/chat/completions", json=body, timeout=30) as response:
            for line in response.iter_lines():
                if '"content":"' in line and '"content":""' not in line:
                    break  # read one piece of text, then hang up
        assert wait_for(lambda: upstream.stats.streams_abandoned == 1, timeout_s=5)
        assert wait_for(lambda: gateway.app.metrics.streams_cancelled == 1)
        assert upstream.stats.in_flight == 0  # the upstream stopped generating: nothing is still running


@pytest.fixture(scope="module")
def dropping_upstream() -> Any:
    config = EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.3), faults=FaultConfig(drop_rate=1.0))
    with EmulatorServer(config) as upstream:
        yield upstream


def test_upstream_dying_mid_stream_ends_with_an_error_event_not_done(
    dropping_upstream: EmulatorServer, start_gateway: Any
) -> None:
    gateway = start_gateway(dropping_upstream)
    body = {"model": "fast", "messages": USER, "max_tokens": 50, "stream": True}
    with httpx.stream("POST", gateway.openai_base_url + "/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.startswith("data:")]
    assert any('"content":"' in line for line in lines[1:-1])  # some text came through first
    assert lines[-1].startswith('data: {"error":') and '"code":"upstream_unreachable"' in lines[-1]
    assert "data: [DONE]" not in lines  # never a clean-looking end
    assert wait_for(lambda: gateway.app.metrics.streams_failed == 1)


def test_the_sdks_raise_on_a_stream_the_upstream_broke(dropping_upstream: EmulatorServer, start_gateway: Any) -> None:
    gateway = start_gateway(dropping_upstream)
    with openai.OpenAI(base_url=gateway.openai_base_url, api_key="k", max_retries=0) as client:
        received: list[str] = []
        with pytest.raises(openai.APIError, match="connection failed"):
            for chunk in client.chat.completions.create(model="fast", messages=USER, max_tokens=50, stream=True):
                received.append(chunk.choices[0].delta.content or "")
        assert "".join(received)  # text arrived, then the error
    with (
        anthropic.Anthropic(base_url=gateway.anthropic_base_url, api_key="k", max_retries=0) as claude,
        pytest.raises(anthropic.APIStatusError, match="connection failed"),
        claude.messages.stream(model="haiku", max_tokens=50, messages=USER) as stream,
    ):
        for _ in stream.text_stream:
            pass


def test_upstream_failure_before_the_first_token_is_an_http_error_status(start_gateway: Any) -> None:
    config = EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0), faults=FaultConfig(error_rate=1.0))
    with EmulatorServer(config) as upstream:
        gateway = start_gateway(upstream)
        with (
            openai.OpenAI(base_url=gateway.openai_base_url, api_key="k", max_retries=0) as client,
            pytest.raises(openai.InternalServerError) as caught,
        ):
            list(client.chat.completions.create(model="fast", messages=USER, stream=True))
        assert caught.value.status_code == 502 and caught.value.code == "upstream_error"


def test_a_fallback_router_streams_through_the_gateway_as_the_upstream_generates(start_gateway: Any) -> None:
    # A Fallback used to answer a stream in one piece at the end; now each piece comes as generated.
    config = EmulatorConfig(overrides=ProfileOverrides(ttft_s=0.05, tokens_per_s=80, jitter=0.0))
    with EmulatorServer(config) as upstream:
        gateway = start_gateway(upstream, routers={"safe": {"kind": "fallback", "order": ["fast", "smart"]}})
        client = openai.OpenAI(base_url=gateway.openai_base_url, api_key="x", max_retries=0)
        arrivals: list[float] = []
        started = time.perf_counter()
        stream = client.chat.completions.create(model="router/safe", messages=USER, max_tokens=60, stream=True)
        text = ""
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append(time.perf_counter() - started)
                text += chunk.choices[0].delta.content
        assert len(arrivals) > 5 and text
        assert arrivals[-1] - arrivals[0] > 0.3  # spread over the generation, not one burst at the end
