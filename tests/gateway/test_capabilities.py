"""The capability table against the emulator and through the gateway, with the real SDKs over loopback.

The emulator refuses what the table says the real model refuses; through the gateway the same
requests are fitted to the model (dropped and said so, translated, or a 400 before anything is
sent), and a fallback skips a target that can't take what the request needs. Upstream requests
are counted on the emulator.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from inferopt.capabilities import bundled_table, default_table
from inferopt.config import parse_config
from inferopt.emulator import EmulatorServer
from inferopt.emulator.profiles import load_profiles

KEY_ENV = "INFEROPT_TEST_UPSTREAM_KEY"
USER = [{"role": "user", "content": "Name a colour."}]
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "colour",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"colour": {"type": "string"}},
            "required": ["colour"],
            "additionalProperties": False,
        },
    },
}


def config(server: EmulatorServer, **extra: Any) -> Any:
    providers = {
        "oa": {"kind": "openai", "base_url": server.openai_base_url, "api_key_env": KEY_ENV},
        "claude": {"kind": "anthropic", "base_url": server.anthropic_base_url, "api_key_env": KEY_ENV},
    }
    models = {
        "reasoner": {"provider": "oa", "model": "o3"},
        "old": {"provider": "oa", "model": "gpt-3.5-turbo-1106"},
        "smart": {"provider": "oa", "model": "gpt-4o"},
        "sonnet": {"provider": "claude", "model": "claude-sonnet-4-5"},
    }
    return parse_config({"providers": providers, "models": models, **extra})


def test_the_emulators_profiles_obey_the_table() -> None:
    table = default_table()
    profiles = load_profiles()
    checked = 0
    for name in profiles.names():
        row, profile = table.get(name), profiles.get(name)
        assert profile is not None
        if row.family is None:
            continue
        checked += 1
        assert row.prompt_cache_min_tokens == profile.min_cacheable_tokens, name
        if row.context_window is not None:
            assert row.context_window == profile.context_window, name
        if row.max_output_tokens is not None:
            assert row.max_output_tokens == profile.max_output_tokens, name
    assert checked >= 15


def test_the_emulator_refuses_what_the_real_reasoning_models_refuse(emulator: EmulatorServer) -> None:
    with openai.OpenAI(base_url=emulator.openai_base_url, api_key="sk-test", max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as sampled:
            client.chat.completions.create(model="o3", messages=USER, temperature=0.2)
        assert sampled.value.code == "unsupported_value" and sampled.value.param == "temperature"
        with pytest.raises(openai.BadRequestError) as legacy:
            client.chat.completions.create(model="gpt-5-mini", messages=USER, max_tokens=20)
        assert legacy.value.code == "unsupported_parameter" and "max_completion_tokens" in legacy.value.message
        with pytest.raises(openai.BadRequestError) as logprobs:
            client.chat.completions.create(model="o4-mini", messages=USER, logprobs=True)
        assert logprobs.value.param == "logprobs"
        ok = client.chat.completions.create(model="o3", messages=USER, temperature=1, max_completion_tokens=20)
        assert ok.choices[0].message.content
    claude = anthropic.Anthropic(base_url=emulator.anthropic_base_url, api_key="sk-test", max_retries=0)
    with claude, pytest.raises(anthropic.BadRequestError, match="cannot both be specified"):
        claude.messages.create(
            model="claude-sonnet-4-5", max_tokens=20, messages=USER, extra_body={"temperature": 0.5, "top_p": 0.9}
        )
    assert not bundled_table().get("o3").temperature  # the emulator read the same table


def test_the_gateway_drops_what_the_model_cant_take_and_says_so(emulator: EmulatorServer, start_gateway: Any) -> None:
    gateway = start_gateway(config=config(emulator))
    before = emulator.stats.requests_total
    with openai.OpenAI(base_url=gateway.openai_base_url, api_key="k", max_retries=0) as client:
        plain = client.chat.completions.with_raw_response.create(
            model="reasoner", messages=USER, temperature=0.2, max_tokens=20
        )
        assert plain.headers["x-inferopt-dropped-params"] == "temperature"
        assert plain.parse().choices[0].message.content
        with client.chat.completions.with_streaming_response.create(
            model="reasoner", messages=USER, temperature=0.2, top_p=0.5, stream=True
        ) as streamed:
            assert streamed.headers["x-inferopt-dropped-params"] == "temperature,top_p"
            text = "".join(c.choices[0].delta.content or "" for c in streamed.parse() if c.choices)
        assert text
    with anthropic.Anthropic(base_url=gateway.anthropic_base_url, api_key="k", max_retries=0) as claude:
        message = claude.messages.with_raw_response.create(
            model="sonnet", max_tokens=20, messages=USER, extra_body={"temperature": 0.5, "top_p": 0.9}
        )
        assert message.headers["x-inferopt-dropped-params"] == "top_p" and message.parse().content
    assert emulator.stats.requests_total - before == 3  # each answered once, none refused upstream


def test_a_reject_policy_is_a_400_before_anything_is_sent(emulator: EmulatorServer, start_gateway: Any) -> None:
    gateway = start_gateway(config=config(emulator, capabilities={"temperature": "reject"}))
    before = emulator.stats.requests_total
    with openai.OpenAI(base_url=gateway.openai_base_url, api_key="k", max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="reasoner", messages=USER, temperature=0.2)
        assert refused.value.code == "unsupported_parameter" and refused.value.param == "temperature"
        assert "capabilities: {temperature: drop}" in refused.value.message
        with pytest.raises(openai.BadRequestError, match="json_schema"):
            client.chat.completions.create(model="old", messages=USER, response_format=SCHEMA)  # type: ignore[arg-type]
    assert emulator.stats.requests_total == before


def test_a_fallback_skips_a_target_that_cant_take_the_schema(emulator: EmulatorServer, start_gateway: Any) -> None:
    routers = {"safe": {"kind": "fallback", "order": ["old", "smart"]}}
    gateway = start_gateway(config=config(emulator, routers=routers))
    total = emulator.stats.requests_total
    with openai.OpenAI(base_url=gateway.openai_base_url, api_key="k", max_retries=0) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="router/safe",
            messages=USER,
            response_format=SCHEMA,  # type: ignore[arg-type]
        )
        answer = raw.parse()
    assert raw.headers["x-inferopt-model"].startswith("gpt-4o")
    assert set(json.loads(answer.choices[0].message.content or "{}")) == {"colour"}
    assert emulator.stats.requests_total - total == 1  # the old model was skipped, not asked


def test_a_fallback_to_a_model_with_a_smaller_output_limit_still_answers(
    emulator: EmulatorServer, start_gateway: Any
) -> None:
    routers = {"safe": {"kind": "fallback", "order": ["old"]}}
    gateway = start_gateway(config=config(emulator, routers=routers))
    with openai.OpenAI(base_url=gateway.openai_base_url, api_key="k", max_retries=0) as client:
        raw = client.chat.completions.with_raw_response.create(model="router/safe", messages=USER, max_tokens=10_000)
    assert raw.parse().choices[0].message.content  # the emulator refuses 10,000 for this model; it got 4,096
    assert raw.headers["x-inferopt-translated-params"] == "max_tokens=10000->4096"
