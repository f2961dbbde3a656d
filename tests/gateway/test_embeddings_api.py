"""Embeddings with the official ``openai`` SDK over loopback HTTP, against the emulator and through the
gateway: strings, lists, token arrays, float and base64, ``dimensions``; answers and errors valid
against the spec; bad input a 400 naming the field; the per-item cache behind the gateway, counted on
the emulator; tenants' vectors kept apart; keys' spend settled at the embedding price."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from inferopt.emulator import EmulatorServer
from inferopt.gateway.keys_sqlite import SQLiteKeyStore

MODEL = "text-embedding-3-small"


@pytest.fixture(params=["gateway", "emulator"])
def base_url(request: pytest.FixtureRequest, emulator: EmulatorServer, start_gateway: Any) -> str:
    if request.param == "emulator":
        return emulator.openai_base_url
    return str(start_gateway(emulator).openai_base_url)


OPENED: list[openai.OpenAI] = []


def client_for(base_url: str, key: str = "sk-test") -> openai.OpenAI:
    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)
    OPENED.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Every SDK client a test opened is closed after it (no socket left to the garbage collector)."""
    yield
    while OPENED:
        OPENED.pop().close()


def embedded(base_url: str, key: str = "sk-test", **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(base_url + "/embeddings", json=body, headers=headers, timeout=30)


def test_the_sdk_embeds_in_float_and_base64_alike(base_url: str) -> None:
    client = client_for(base_url)
    texts = ["The quick brown fox", "jumps over the lazy dog", "The quick brown fox"]
    default = client.embeddings.create(model=MODEL, input=texts)  # the SDK asks for base64 and decodes
    floats = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    assert [d.index for d in default.data] == [0, 1, 2] and default.model == MODEL
    assert [d.embedding for d in default.data] == [d.embedding for d in floats.data]
    assert default.data[0].embedding == default.data[2].embedding != default.data[1].embedding
    assert len(default.data[0].embedding) == 1536
    assert math.isclose(sum(x * x for x in default.data[0].embedding), 1.0, rel_tol=1e-5)
    assert default.usage.prompt_tokens == default.usage.total_tokens > 0


def test_the_gateway_asks_upstream_for_base64_and_answers_a_float_caller_in_floats(
    emulator: EmulatorServer, start_gateway: Any
) -> None:
    """A third of the bytes upstream and no float parsing in the gateway; the caller sees no difference."""
    client = client_for(start_gateway(emulator).openai_base_url)
    floats = client.embeddings.create(model=MODEL, input=["upstream format"], encoding_format="float")
    sent = json.loads(emulator.stats.last_body["/v1/embeddings"])
    assert sent["encoding_format"] == "base64" and sent["input"] == ["upstream format"]
    direct = client_for(emulator.openai_base_url).embeddings.create(
        model=MODEL, input="upstream format", encoding_format="float"
    )
    assert floats.data[0].embedding == direct.data[0].embedding


def test_dimensions_and_token_arrays(base_url: str) -> None:
    client = client_for(base_url)
    short = client.embeddings.create(model=MODEL, input="hello world", dimensions=256)
    assert len(short.data) == 1 and len(short.data[0].embedding) == 256
    assert math.isclose(sum(x * x for x in short.data[0].embedding), 1.0, rel_tol=1e-5)
    tokens = client.embeddings.create(model=MODEL, input=[[15339, 1917], [15339]], encoding_format="float")
    assert len(tokens.data) == 2 and tokens.usage.prompt_tokens == 3
    one = client.embeddings.create(model=MODEL, input=[15339, 1917])
    assert len(one.data) == 1 and one.data[0].embedding == tokens.data[0].embedding


def test_answers_and_errors_validate_against_the_spec(base_url: str, openai_spec: Any) -> None:
    answer = embedded(base_url, model=MODEL, input=["a", "b"], encoding_format="float", dimensions=8)
    assert answer.status_code == 200, answer.text
    openai_spec(answer.json(), "CreateEmbeddingResponse")
    bad = embedded(base_url, model=MODEL, input="")
    assert bad.status_code == 400
    openai_spec(bad.json(), "ErrorResponse")
    unknown = embedded(base_url, model="no-such-embedder", input="x")
    assert unknown.status_code == 404
    openai_spec(unknown.json(), "ErrorResponse")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": MODEL}, "input"),
        ({"model": MODEL, "input": ["ok", 2.5]}, "input[1]"),
        ({"model": MODEL, "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ({"model": MODEL, "input": "x", "dimensions": -1}, "dimensions"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(base_url: str, body: dict[str, Any], param: str) -> None:
    response = embedded(base_url, **body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_the_gateway_cache_sends_only_new_inputs_upstream(
    emulator: EmulatorServer, start_gateway: Any, gateway_config: Any
) -> None:
    config = gateway_config(emulator).with_layer("cache", {"url": "memory://"})
    client = client_for(str(start_gateway(config=config).openai_base_url))
    texts = [f"gateway cached input {i}" for i in range(10)]
    sent = emulator.app.stats.snapshot()["by_route"].get("/v1/embeddings", 0)
    tokens = emulator.app.stats.prompt_tokens
    first = client.embeddings.with_raw_response.create(model=MODEL, input=texts[:3])
    assert first.headers["x-inferopt-cache"] == "miss"
    after_first = emulator.app.stats.prompt_tokens
    second = client.embeddings.with_raw_response.create(model=MODEL, input=texts)
    assert second.headers["x-inferopt-cache"] == "partial" and second.headers["x-inferopt-cache-hits"] == "3"
    assert emulator.app.stats.snapshot()["by_route"]["/v1/embeddings"] == sent + 2
    full = second.parse()
    assert emulator.app.stats.prompt_tokens - after_first == full.usage.prompt_tokens - (after_first - tokens)
    assert [d.embedding for d in full.data[:3]] == [d.embedding for d in first.parse().data]
    third = client.embeddings.with_raw_response.create(model=MODEL, input=list(reversed(texts)))
    assert third.headers["x-inferopt-cache"] == "hit" and third.headers["x-inferopt-cost-usd"] == "0.00000000"
    assert [d.embedding for d in third.parse().data] == [d.embedding for d in reversed(full.data)]
    assert emulator.app.stats.snapshot()["by_route"]["/v1/embeddings"] == sent + 2


def test_tenants_keep_their_own_vectors_and_pay_for_them(
    emulator: EmulatorServer, start_gateway: Any, gateway_config: Any, tmp_path: Path
) -> None:
    store = SQLiteKeyStore(str(tmp_path / "keys.db"))
    a_key, secret_a = asyncio.run(store.create("a", cache_namespace="tenant-a", budget_usd=1.0))
    _, secret_b = asyncio.run(store.create("b", cache_namespace="tenant-b"))
    config = gateway_config(emulator).with_layer("cache", {"url": "memory://"})
    url = str(start_gateway(config=config, keys=store).openai_base_url)
    a, b = client_for(url, secret_a), client_for(url, secret_b)
    sent = emulator.app.stats.snapshot()["by_route"].get("/v1/embeddings", 0)
    paid = a.embeddings.with_raw_response.create(model=MODEL, input=["tenant text"])
    assert paid.headers["x-inferopt-cache"] == "miss"
    assert (
        b.embeddings.with_raw_response.create(model=MODEL, input=["tenant text"]).headers["x-inferopt-cache"] == "miss"
    )
    assert (
        a.embeddings.with_raw_response.create(model=MODEL, input=["tenant text"]).headers["x-inferopt-cache"] == "hit"
    )
    assert emulator.app.stats.snapshot()["by_route"]["/v1/embeddings"] == sent + 2
    spent, reserved = asyncio.run(store.spend(a_key.id))
    assert spent == pytest.approx(float(paid.headers["x-inferopt-cost-usd"])) and spent > 0 and reserved == 0
    with pytest.raises(openai.AuthenticationError):
        client_for(url, "sk-io-wrong").embeddings.create(model=MODEL, input="x")
