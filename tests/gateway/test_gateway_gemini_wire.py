"""The gateway speaks Gemini's wire: the ``google-genai`` SDK, unchanged but for ``base_url``, reaches any
model behind it (an OpenAI model, a Claude model, a Gemini model), plain and streamed, with tools."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from inferopt.config import parse_config
from inferopt.emulator import EmulatorServer

genai = pytest.importorskip("google.genai", reason="google-genai not installed (pip install -e '.[dev]')")
types = pytest.importorskip("google.genai.types")
errors = pytest.importorskip("google.genai.errors")

KEY_ENV = "INFEROPT_TEST_UPSTREAM_KEY"


def config(server: EmulatorServer) -> Any:
    providers = {
        "oa": {"kind": "openai", "base_url": server.openai_base_url, "api_key_env": KEY_ENV},
        "claude": {"kind": "anthropic", "base_url": server.anthropic_base_url, "api_key_env": KEY_ENV},
        "google": {"kind": "gemini", "base_url": server.url, "api_key_env": KEY_ENV},
    }
    models = {
        "fast": {"provider": "oa", "model": "gpt-4o-mini"},
        "haiku": {"provider": "claude", "model": "claude-haiku-4-5"},
        "flash": {"provider": "google", "model": "gemini-2.5-flash"},
    }
    return parse_config({"providers": providers, "models": models})


def sdk(gateway: Any) -> Any:
    return genai.Client(api_key="gw-key", http_options=types.HttpOptions(base_url=gateway.url, api_version="v1beta"))


@pytest.mark.parametrize("model", ["fast", "haiku", "flash"])
def test_generate_and_stream_through_the_gateway(emulator: EmulatorServer, start_gateway: Any, model: str) -> None:
    client = sdk(start_gateway(config=config(emulator)))
    cfg = types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=30)
    whole = client.models.generate_content(model=model, contents="Name a colour", config=cfg)
    chunks = list(client.models.generate_content_stream(model=model, contents="Name a colour", config=cfg))
    assert whole.text and "".join(c.text or "" for c in chunks) == whole.text
    usage = whole.usage_metadata
    assert usage.prompt_token_count > 0 and usage.candidates_token_count > 0
    assert chunks[-1].usage_metadata.candidates_token_count == usage.candidates_token_count


def test_a_function_call_round_trips(emulator: EmulatorServer, start_gateway: Any) -> None:
    client = sdk(start_gateway(config=config(emulator)))
    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name="get_weather",
                description="The weather in a city",
                parameters_json_schema={
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            )
        ]
    )
    cfg = types.GenerateContentConfig(
        tools=[tool],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")),
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    answer = client.models.generate_content(model="fast", contents="Weather in Paris?", config=cfg)
    (call,) = answer.function_calls or []
    assert call.name == "get_weather" and isinstance(call.args["city"], str)


def test_errors_are_googles_envelope(emulator: EmulatorServer, start_gateway: Any) -> None:
    gateway = start_gateway(config=config(emulator))
    client = sdk(gateway)
    with pytest.raises(errors.ClientError) as unknown:
        client.models.generate_content(model="no-such-model", contents="Hi")
    assert unknown.value.code == 404 and unknown.value.status == "NOT_FOUND"
    bad = httpx.post(f"{gateway.url}/v1beta/models/fast:generateContent", json={"contents": []})
    assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_a_gateway_key_goes_in_the_sdks_api_key(emulator: EmulatorServer, start_gateway: Any, tmp_path: Any) -> None:
    from inferopt.gateway.keys_sqlite import SQLiteKeyStore

    path = str(tmp_path / "keys.db")
    store = SQLiteKeyStore(path)
    key, secret = asyncio.run(store.create("gemini-app", budget_usd=1.0))
    gateway = start_gateway(config=config(emulator), keys=SQLiteKeyStore(path))
    options = types.HttpOptions(base_url=gateway.url, api_version="v1beta")
    owner = genai.Client(api_key=secret, http_options=options)
    answer = owner.models.generate_content(model="flash", contents="Hi")
    assert answer.text
    stranger = genai.Client(api_key="sk-io-not-a-key", http_options=options)
    with pytest.raises(errors.ClientError) as refused:
        stranger.models.generate_content(model="flash", contents="Hi")
    assert refused.value.code == 401 and "sk-io-not-a-key" not in str(refused.value)
    spent, _ = asyncio.run(store.spend(key.id))
    assert spent > 0
    asyncio.run(store.aclose())


def test_count_tokens_is_counted_by_the_gateway(emulator: EmulatorServer, start_gateway: Any) -> None:
    client = sdk(start_gateway(config=config(emulator)))
    before = emulator.stats.requests_total
    short = client.models.count_tokens(model="flash", contents="Hi")
    longer = client.models.count_tokens(model="flash", contents="Hi " * 200)
    assert 0 < short.total_tokens < longer.total_tokens
    assert emulator.stats.requests_total == before  # nothing sent upstream


def test_a_gateway_key_in_the_url_as_geminis_rest_examples_send_it(
    emulator: EmulatorServer, start_gateway: Any, tmp_path: Any
) -> None:
    # curl "https://generativelanguage.googleapis.com/v1beta/models/M:generateContent?key=$KEY"
    from inferopt.gateway.keys_sqlite import SQLiteKeyStore

    path = str(tmp_path / "keys.db")
    store = SQLiteKeyStore(path)
    key, secret = asyncio.run(store.create("curl-user", budget_usd=1.0))
    gateway = start_gateway(config=config(emulator), keys=SQLiteKeyStore(path))
    body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    url = f"{gateway.url}/v1beta/models/flash:generateContent"
    answer = httpx.post(url, params={"key": secret}, json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["candidates"][0]["content"]["parts"][0]["text"]
    wrong = httpx.post(url, params={"key": "sk-io-not-a-key"}, json=body, timeout=30)
    assert wrong.status_code == 401 and "sk-io-not-a-key" not in wrong.text
    assert wrong.json()["error"]["status"] == "UNAUTHENTICATED"
    # Only on Gemini's paths: an OpenAI-wire request with the key in its URL is still refused.
    openai_wire = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        params={"key": secret},
        json={"model": "fast", "messages": [{"role": "user", "content": "Hi"}]},
        timeout=30,
    )
    assert openai_wire.status_code == 401
    spent, _ = asyncio.run(store.spend(key.id))
    assert spent > 0
    asyncio.run(store.aclose())
