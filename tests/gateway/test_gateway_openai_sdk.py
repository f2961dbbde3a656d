"""The official openai SDK against the gateway: answers, streams, headers, models, validation."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from inferopt.emulator import EmulatorServer
from inferopt.errors import ProviderHTTPError
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest

USER: Any = [{"role": "user", "content": "Name three rivers."}]
PROVIDER_KEY = "sk-provider-secret-0123456789abcdef"


def sdk(gateway: Any, key: str = "sk-anything") -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_base_url, api_key=key, max_retries=0)


def test_completion_through_the_gateway_matches_the_upstream_and_says_what_happened(
    emulator: EmulatorServer, start_gateway: Any
) -> None:
    gateway = start_gateway(emulator)
    direct = openai.OpenAI(base_url=emulator.openai_base_url, api_key="sk-direct", max_retries=0)
    with sdk(gateway) as client, direct:
        raw = client.chat.completions.with_raw_response.create(
            model="fast", messages=USER, max_tokens=25, temperature=0, seed=1
        )
        answer = raw.parse()
        upstream = direct.chat.completions.create(
            model="gpt-4o-mini", messages=USER, max_tokens=25, temperature=0, seed=1
        )
    assert answer.choices[0].message.content == upstream.choices[0].message.content  # same seed, same answer
    assert answer.usage is not None and upstream.usage is not None
    assert answer.usage.prompt_tokens == upstream.usage.prompt_tokens
    assert answer.usage.completion_tokens == upstream.usage.completion_tokens == 25
    assert raw.headers["x-inferopt-model"] == "gpt-4o-mini"
    assert raw.headers["x-inferopt-provider"] == "emu"
    assert raw.headers["x-inferopt-emulated"] == "true"
    assert float(raw.headers["x-inferopt-cost-usd"]) > 0
    assert float(raw.headers["x-inferopt-upstream-ms"]) >= 0


def test_stream_yields_the_same_text_with_usage_last(emulator: EmulatorServer, start_gateway: Any) -> None:
    gateway = start_gateway(emulator)
    with sdk(gateway) as client:
        whole = client.chat.completions.create(model="haiku", messages=USER, max_tokens=40, temperature=0)
        chunks = list(
            client.chat.completions.create(
                model="haiku",
                messages=USER,
                max_tokens=40,
                temperature=0,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content  # an Anthropic upstream behind an OpenAI front
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens  # type: ignore[union-attr]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")


def test_token_logprobs_pass_through_plain_and_streamed(emulator: EmulatorServer, start_gateway: Any) -> None:
    gateway = start_gateway(emulator)
    direct = openai.OpenAI(base_url=emulator.openai_base_url, api_key="sk-direct", max_retries=0)
    ask: Any = {"messages": USER, "max_tokens": 20, "temperature": 0, "logprobs": True, "top_logprobs": 2}
    with sdk(gateway) as client, direct:
        through = client.chat.completions.create(model="fast", **ask)
        upstream = direct.chat.completions.create(model="gpt-4o-mini", **ask)
        chunks = list(client.chat.completions.create(model="fast", stream=True, **ask))
    assert through.choices[0].logprobs is not None and upstream.choices[0].logprobs is not None
    assert through.choices[0].logprobs.content == upstream.choices[0].logprobs.content
    streamed = [
        e for c in chunks for ch in c.choices if ch.logprobs and ch.logprobs.content for e in ch.logprobs.content
    ]
    assert streamed == upstream.choices[0].logprobs.content
    plain = sdk(gateway).chat.completions.create(model="fast", messages=USER, max_tokens=5)
    assert plain.choices[0].logprobs is None  # only when asked


def test_models_health_and_unknown_route(emulator: EmulatorServer, start_gateway: Any) -> None:
    gateway = start_gateway(emulator)
    with sdk(gateway) as client:
        assert sorted(m.id for m in client.models.list()) == ["fast", "haiku", "smart"]
    assert httpx.get(gateway.url + "/health").json() == {"status": "ok"}
    missing = httpx.post(gateway.url + "/v1/completions", json={})
    assert missing.status_code == 404 and "unknown route" in missing.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"messages": USER}, "model", "'model' is required"),
        ({"model": "fast", "messages": []}, "messages", "non-empty list"),
        ({"model": "fast", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "must be one of"),
        ({"model": "fast", "messages": USER, "temperature": 3}, "temperature", "from 0 to 2"),
        ({"model": "fast", "messages": USER, "max_tokens": 0}, "max_tokens", "integer from 1"),
        ({"model": "fast", "messages": USER, "n": 0}, "n", "integer from 1 to 128"),
        ({"model": "fast", "messages": USER, "stream": "yes"}, "stream", "true or false"),
    ],
)
def test_schema_errors_are_openai_style_400s_naming_the_field(
    emulator: EmulatorServer, start_gateway: Any, body: dict[str, Any], param: str, words: str
) -> None:
    gateway = start_gateway(emulator)
    before = emulator.stats.requests_total
    answer = httpx.post(gateway.openai_base_url + "/chat/completions", json=body)
    error = answer.json()["error"]
    assert answer.status_code == 400
    assert error["type"] == "invalid_request_error" and error["param"] == param and words in error["message"]
    assert emulator.stats.requests_total == before  # refused at the edge: nothing reached the upstream


def test_the_sdk_raises_its_usual_error_for_a_gateway_400(emulator: EmulatorServer, start_gateway: Any) -> None:
    gateway = start_gateway(emulator)
    with sdk(gateway) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="fast", messages=USER, top_p=1.5)
    assert caught.value.param == "top_p" and "from 0 to 1" in caught.value.message


def test_invalid_json_and_oversized_bodies_are_refused_before_any_upstream_call(start_gateway: Any) -> None:
    calls = FunctionModel(lambda request: "never")
    from inferopt.gateway.validation import RequestLimits

    gateway = start_gateway(models={"m": calls}, limits=RequestLimits(max_body_bytes=2000))
    url = gateway.openai_base_url + "/chat/completions"
    bad = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]["message"]
    big = httpx.post(url, json={"model": "m", "messages": [{"role": "user", "content": "x" * 5000}]})
    assert big.status_code == 413 and "limit 2000 bytes" in big.json()["error"]["message"]
    assert big.json()["error"]["code"] == "request_too_large"
    assert calls.calls == []


def test_upstream_errors_keep_their_meaning_and_never_show_the_provider_key(start_gateway: Any) -> None:
    def fail(request: ChatRequest) -> str:
        raise ProviderHTTPError(
            f"upstream refused: bad header Authorization: Bearer {PROVIDER_KEY}", status=400, provider="p"
        )

    gateway = start_gateway(models={"leaky": FunctionModel(fail)})
    with sdk(gateway) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="leaky", messages=USER)
    raw = caught.value.response.text
    assert "upstream refused" in raw and PROVIDER_KEY not in raw and "[REDACTED]" in raw


def test_unknown_model_is_a_404_listing_what_would_work(emulator: EmulatorServer, start_gateway: Any) -> None:
    from inferopt.config import parse_config

    config = parse_config(
        {
            "providers": {
                "a": {"kind": "openai", "base_url": emulator.openai_base_url},
                "b": {"kind": "openai", "base_url": emulator.openai_base_url},
            },
            "models": {"fast": {"provider": "a", "model": "gpt-4o-mini"}},
        }
    )
    gateway = start_gateway(config=config)
    with sdk(gateway) as client, pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=USER)
    assert caught.value.code == "model_not_found" and "fast" in caught.value.message


def test_wrapper_annotations_become_headers(start_gateway: Any) -> None:
    from inferopt.types import ChatResponse, Usage

    def answer(request: ChatRequest) -> ChatResponse:
        response = ChatResponse(id="r1", model="m-real", content="ok", usage=Usage(3, 1), provider="fn")
        response.cache, response.attempts = "hit", 2
        response.route = {"router": "r", "chosen": "cheap\nX-Evil: 1", "attempts": []}
        response.annotations["cache_age_s"] = 12.5  # other scalar notes become headers too
        return response

    gateway = start_gateway(models={"gpt-4o-mini": FunctionModel(answer)})
    with sdk(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER)
    assert raw.headers["x-inferopt-cache"] == "hit"
    assert raw.headers["x-inferopt-attempts"] == "2"
    assert raw.headers["x-inferopt-route"] == "cheapX-Evil: 1"  # no header injection: control characters dropped
    assert "x-evil" not in raw.headers
    assert raw.headers["x-inferopt-cache-age-s"] == "12.50000000"
