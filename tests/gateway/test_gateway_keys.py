"""Virtual keys: hashed storage, auth, allowed models, RPM, cache namespace, and budgets that cannot be overspent."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import openai
import pytest

from inferopt.gateway.keys import KeyStore
from inferopt.gateway.keys_sqlite import SQLiteKeyStore
from inferopt.gateway.usage import estimate_of
from inferopt.gateway.validation import ParsedChat, RequestLimits, parse_openai_chat
from inferopt.pricing import default_catalog
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest

MODEL = "gpt-4o-mini"
USER: Any = [{"role": "user", "content": "Summarise the plot of Hamlet."}]
FIXED_NOW = 60_000.0 + 5  # five seconds into a minute window: no test crosses a window boundary


def redis_store(prefix: str) -> KeyStore:
    redis = pytest.importorskip("redis", reason="the redis package is not installed (pip install 'inferopt[redis]')")
    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not answering at 127.0.0.1:6379 (start redis-server to run the shared-budget tests)")
    finally:
        client.close()
    from inferopt.gateway.keys_redis import RedisKeyStore

    return RedisKeyStore("redis://127.0.0.1:6379/0", prefix=prefix)


@pytest.fixture(params=["sqlite", "redis"])
def store_pair(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], KeyStore]:
    """A factory of stores that share state: two of them stand for two gateway processes."""
    if request.param == "sqlite":
        return lambda: SQLiteKeyStore(str(tmp_path / "keys.db"))
    prefix = f"inferopt-test:{uuid.uuid4().hex}:"
    redis_store(prefix)  # skip early when Redis is down
    return lambda: redis_store(prefix)


def gated_model(release: threading.Event) -> FunctionModel:
    """Answers only once ``release`` is set, so every request is in flight at the same time."""

    async def answer(request: ChatRequest) -> str:
        while not release.is_set():
            await asyncio.sleep(0.005)
        return "To be or not to be: a prince hesitates, and everyone dies."

    return FunctionModel(answer)


async def test_concurrent_requests_through_two_gateways_cannot_overspend_one_budget(
    store_pair: Callable[[], KeyStore], start_gateway: Any
) -> None:
    parsed = parse_openai_chat({"model": MODEL, "messages": USER, "max_tokens": 100}, RequestLimits())
    assert isinstance(parsed, ParsedChat)
    worst_case = estimate_of(parsed.request, MODEL, default_catalog(), 1024).usd
    admin = store_pair()
    key, secret = await admin.create("team-a", budget_usd=worst_case * 5.5)  # room for exactly 5 in flight
    release = threading.Event()
    gateways = [
        start_gateway(models={MODEL: gated_model(release)}, keys=store_pair(), clock=lambda: FIXED_NOW)
        for _ in range(2)
    ]
    clients = [openai.AsyncOpenAI(base_url=g.openai_base_url, api_key=secret, max_retries=0) for g in gateways]

    async def one(i: int) -> str:
        try:
            await clients[i % 2].chat.completions.create(model=MODEL, messages=USER, max_tokens=100)
            return "ok"
        except openai.RateLimitError as exc:
            assert exc.code == "insufficient_quota" and "budget" in exc.message
            return "refused"

    tasks = [asyncio.create_task(one(i)) for i in range(20)]
    while sum(t.done() for t in tasks) < 15:  # the refusals come back at once; the admitted wait
        await asyncio.sleep(0.01)
    spent, reserved = await admin.spend(key.id)
    assert spent == 0 and reserved == pytest.approx(worst_case * 5)
    release.set()
    results = await asyncio.gather(*tasks)
    assert results.count("ok") == 5 and results.count("refused") == 15
    spent, reserved = await admin.spend(key.id)
    assert reserved == pytest.approx(0, abs=1e-12)
    assert 0 < spent < worst_case * 5  # settled to actual usage, below the reservations
    for client in clients:
        await client.close()
    await admin.aclose()


async def test_key_auth_models_rpm_and_namespace(start_gateway: Any, tmp_path: Path) -> None:
    store = SQLiteKeyStore(str(tmp_path / "keys.db"))
    _, secret = await store.create("tenant-a", rpm=2, models=[MODEL], cache_namespace="tenant-a")
    model = FunctionModel(lambda request: "fine")
    gateway = start_gateway(models={MODEL: model, "gpt-4o": model}, keys=store, clock=lambda: FIXED_NOW)
    base = gateway.openai_base_url

    async with openai.AsyncOpenAI(base_url=base, api_key="sk-io-not-a-real-key-123456", max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError) as caught:
            await wrong.chat.completions.create(model=MODEL, messages=USER)
        assert "invalid API key" in caught.value.message and "not-a-real-key" not in caught.value.response.text
    async with openai.AsyncOpenAI(base_url=base, api_key=secret, max_retries=0) as client:
        assert [m.id for m in (await client.models.list()).data] == [MODEL]
        with pytest.raises(openai.PermissionDeniedError) as denied:
            await client.chat.completions.create(model="gpt-4o", messages=USER)
        assert "may not use model 'gpt-4o'" in denied.value.message
        await client.chat.completions.create(model=MODEL, messages=USER)
        await client.chat.completions.create(model=MODEL, messages=USER)
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model=MODEL, messages=USER)
        assert limited.value.code == "rate_limit_exceeded" and limited.value.response.headers["retry-after"] == "55"
    assert [c.options.get("namespace") for c in model.calls] == ["tenant-a", "tenant-a"]


async def test_keys_are_stored_hashed_and_revocable(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    store = SQLiteKeyStore(str(path))
    key, secret = await store.create("ops", budget_usd=1.0)
    assert secret.startswith("sk-io-") and (await store.lookup(secret)) == key
    dump = "\n".join(sqlite3.connect(path).iterdump())
    assert secret not in dump and secret[6:] not in dump
    assert await store.revoke(key.id)
    assert await store.lookup(secret) is None
    await store.aclose()


async def test_missing_key_is_a_401_naming_both_headers(start_gateway: Any) -> None:
    store = SQLiteKeyStore(":memory:")
    gateway = start_gateway(models={MODEL: FunctionModel(lambda r: "x")}, keys=store)
    import httpx

    async with httpx.AsyncClient() as http:
        answer = await http.post(gateway.openai_base_url + "/chat/completions", json={"model": MODEL, "messages": USER})
    assert answer.status_code == 401
    assert (
        "Authorization: Bearer" in answer.json()["error"]["message"]
        and "x-api-key" in answer.json()["error"]["message"]
    )


async def test_a_stream_cut_short_settles_to_what_was_streamed(start_gateway: Any, tmp_path: Path) -> None:
    import httpx

    from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

    store = SQLiteKeyStore(str(tmp_path / "keys.db"))
    key, secret = await store.create("streamer", budget_usd=1.0)
    config = EmulatorConfig(overrides=ProfileOverrides(ttft_s=0.02, tokens_per_s=40, jitter=0.0))
    with EmulatorServer(config) as upstream:
        gateway = start_gateway(upstream, keys=store)
        body = {"model": "smart", "messages": USER, "max_tokens": 300, "stream": True}
        headers = {"authorization": f"Bearer {secret}"}
        async with (
            httpx.AsyncClient(timeout=30) as http,
            http.stream("POST", gateway.openai_base_url + "/chat/completions", json=body, headers=headers) as answer,
        ):
            assert answer.status_code == 200
            pieces = 0
            async for line in answer.aiter_lines():
                pieces += '"content":"' in line and '"content":""' not in line
                if pieces == 3:
                    break  # hang up after three pieces of text
        for _ in range(200):
            spent, reserved = await store.spend(key.id)
            if reserved == 0:
                break
            await asyncio.sleep(0.02)
    parsed = parse_openai_chat({"model": "gpt-4o", "messages": USER, "max_tokens": 300}, RequestLimits())
    assert isinstance(parsed, ParsedChat)
    worst_case = estimate_of(parsed.request, "gpt-4o", default_catalog(), 1024)
    prompt_only = estimate_of(replace(parsed.request, max_tokens=None), "gpt-4o", default_catalog(), 0).usd
    assert reserved == 0
    assert prompt_only < spent < worst_case.usd / 2  # the prompt and a few tokens, not the 300 reserved


async def test_cache_mode_header_reaches_the_stack(start_gateway: Any) -> None:
    model = FunctionModel(lambda request: "fresh")
    gateway = start_gateway(models={MODEL: model})
    async with openai.AsyncOpenAI(base_url=gateway.openai_base_url, api_key="k", max_retries=0) as client:
        await client.chat.completions.create(model=MODEL, messages=USER, extra_headers={"x-inferopt-cache": "bypass"})
        await client.chat.completions.create(model=MODEL, messages=USER)
    assert [c.options.get("cache") for c in model.calls] == ["bypass", None]
