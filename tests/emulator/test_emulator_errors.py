"""Errors in each provider's format: 401, 404, 400 context window, 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

USER: Any = [{"role": "user", "content": "hello"}]


@pytest.fixture
def limited(clock: Any) -> Iterator[EmulatorServer]:
    config = EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0, rpm=2), clock=clock)
    with EmulatorServer(config) as running:
        yield running


def test_openai_rpm_exceeded_is_a_429_with_retry_after(limited: EmulatorServer, clock: Any) -> None:
    with openai.OpenAI(base_url=limited.openai_base_url, api_key="sk-a", max_retries=0) as client:
        ok = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER)
        assert ok.headers["x-ratelimit-limit-requests"] == "2"
        assert ok.headers["x-ratelimit-remaining-requests"] == "1"
        client.chat.completions.create(model="gpt-4o", messages=USER)
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=USER)
        headers = caught.value.response.headers
        assert headers["retry-after"] == "30"  # one request refills in 60 s / 2
        assert int(headers["retry-after-ms"]) == 30000
        assert headers["x-ratelimit-remaining-requests"] == "0"
        assert headers["x-ratelimit-reset-requests"] == "1m0s"
        assert caught.value.code == "rate_limit_exceeded"
        assert headers["x-inferopt-emulated"] == "true"
        # Another key has its own limits; the same key recovers once the bucket refills.
        with openai.OpenAI(base_url=limited.openai_base_url, api_key="sk-b", max_retries=0) as other:
            other.chat.completions.create(model="gpt-4o", messages=USER)
        clock.advance(30)
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert limited.stats.rate_limited == 1


def test_anthropic_429_has_retry_after_and_ratelimit_headers(limited: EmulatorServer) -> None:
    with anthropic.Anthropic(base_url=limited.anthropic_base_url, api_key="k", max_retries=0) as client:
        for _ in range(2):
            client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=USER)
        with pytest.raises(anthropic.RateLimitError) as caught:
            client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=USER)
    headers = caught.value.response.headers
    assert headers["retry-after"] == "30"
    assert headers["anthropic-ratelimit-requests-limit"] == "2"
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error" and body["error"]["type"] == "rate_limit_error"


def test_tpm_charges_prompt_plus_max_tokens(clock: Any) -> None:
    config = EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0, tpm=1000), clock=clock)
    with (
        EmulatorServer(config) as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client,
    ):
        client.chat.completions.create(model="gpt-4o", messages=USER, max_tokens=600)
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=USER, max_tokens=600)
        assert caught.value.type == "tokens"
        with pytest.raises(openai.RateLimitError, match="Request too large"):
            client.chat.completions.create(model="gpt-4o", messages=USER, max_tokens=1001)


def test_missing_api_key_is_401_in_each_format(server: EmulatorServer) -> None:
    response = httpx.post(server.openai_base_url + "/chat/completions", json={"model": "gpt-4o", "messages": USER})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.headers["x-inferopt-emulated"] == "true"
    response = httpx.post(
        server.url + "/v1/messages",
        json={"model": "claude-haiku-4-5", "max_tokens": 5, "messages": USER},
        headers={"x-api-key": ""},
    )
    assert response.status_code == 401
    assert response.json()["error"] == {"type": "authentication_error", "message": "x-api-key header is required"}
    assert (
        httpx.post(server.openai_base_url + "/chat/completions", headers={"authorization": "Bearer"}).status_code == 401
    )
    # The SDK refuses an empty key itself; a header that is not Bearer auth reaches the server.
    no_bearer = {"Authorization": "Basic abc"}
    with (
        openai.OpenAI(base_url=server.openai_base_url, api_key="x", default_headers=no_bearer, max_retries=0) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.chat.completions.create(model="gpt-4o", messages=USER)


def test_the_api_key_is_never_echoed(server: EmulatorServer) -> None:
    secret = "sk-secret-value-123456789"
    response = httpx.post(
        server.openai_base_url + "/chat/completions",
        json={"model": "no-such-model", "messages": USER},
        headers={"authorization": f"Bearer {secret}"},
    )
    assert secret not in response.text and all(secret not in v for v in response.headers.values())


def test_unknown_model_is_404_naming_the_known_models(server: EmulatorServer) -> None:
    with (
        openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client,
        pytest.raises(openai.NotFoundError) as caught,
    ):
        client.chat.completions.create(model="gpt-nonexistent", messages=USER)
    assert caught.value.code == "model_not_found" and "gpt-4o-mini" in caught.value.message
    with (
        anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="k", max_retries=0) as claude,
        pytest.raises(anthropic.NotFoundError) as not_found,
    ):
        claude.messages.create(model="gpt-4o", max_tokens=5, messages=USER)  # not on the Anthropic route
    assert "claude-haiku-4-5" in str(not_found.value)


def test_context_window_exceeded_in_each_format(server: EmulatorServer, long_text: Callable[[int, str], str]) -> None:
    too_long: Any = [{"role": "user", "content": long_text(20_000, "")}]  # gpt-3.5-turbo-1106 takes 16,385
    with (
        openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        client.chat.completions.create(model="gpt-3.5-turbo-1106", messages=too_long)
    assert caught.value.code == "context_length_exceeded" and caught.value.param == "messages"
    assert "maximum context length is 16385 tokens" in caught.value.message
    with anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="k", max_retries=0) as claude:
        with pytest.raises(anthropic.BadRequestError, match=r"prompt is too long: \d+ tokens > 100000 maximum"):
            claude.messages.create(
                model="claude-v2", max_tokens=5, messages=[{"role": "user", "content": long_text(110_000, "")}]
            )
        with pytest.raises(anthropic.BadRequestError, match="max_tokens: 5000 > 4096"):
            claude.messages.create(model="claude-v2", max_tokens=5000, messages=USER)


def test_malformed_requests_are_400(server: EmulatorServer) -> None:
    headers = {"authorization": "Bearer sk"}
    bad_json = httpx.post(server.openai_base_url + "/chat/completions", content=b"{not json", headers=headers)
    assert bad_json.status_code == 400
    no_max = httpx.post(
        server.url + "/v1/messages", json={"model": "claude-haiku-4-5", "messages": USER}, headers={"x-api-key": "k"}
    )
    assert no_max.status_code == 400 and no_max.json()["error"]["message"] == "max_tokens: Field required"
    assert httpx.get(server.url + "/v1/nowhere").status_code == 404
