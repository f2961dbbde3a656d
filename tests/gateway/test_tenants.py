"""Tenants are isolated by default: keys created without a namespace never read each other's answers.

The official OpenAI SDK calls a real gateway over loopback; the emulator behind it counts the
requests that went upstream, so a hit that crossed tenants would show as one request too few.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from inferopt.emulator import EmulatorServer
from inferopt.gateway.keys_sqlite import SQLiteKeyStore

pytest.importorskip("numpy", reason="the semantic cache needs numpy: pip install 'inferopt[semantic]'")

QUESTION = "What is the capital of France?"
PARAPHRASE = "What is the capital city of France?"


async def ask(gateway: Any, secret: str, text: str) -> str | None:
    async with openai.AsyncOpenAI(base_url=gateway.openai_base_url, api_key=secret, max_retries=0) as client:
        answer = await client.chat.completions.with_raw_response.create(
            model="fast", messages=[{"role": "user", "content": text}], temperature=0, max_tokens=20
        )
    return answer.headers.get("x-inferopt-cache")


async def test_keys_without_a_namespace_share_no_answers_exact_or_semantic(
    emulator: EmulatorServer, gateway_config: Any, start_gateway: Any
) -> None:
    cache = {"url": "memory://", "semantic": {"embedder": "hashing", "threshold": 0.8}}
    config = gateway_config(emulator).with_layer("cache", cache)
    store = SQLiteKeyStore(":memory:")
    _, first = await store.create("tenant-1")
    _, second = await store.create("tenant-2")
    gateway = start_gateway(config=config, keys=store)
    before = emulator.stats.requests_total

    assert await ask(gateway, first, QUESTION) == "miss"
    assert await ask(gateway, first, QUESTION) == "hit"  # the cache works within a tenant...
    assert await ask(gateway, first, PARAPHRASE) == "semantic_hit"  # ...semantically too
    assert await ask(gateway, second, QUESTION) == "miss"  # ...and never across tenants
    assert await ask(gateway, second, PARAPHRASE) == "semantic_hit"  # tenant 2's own semantic entry
    assert emulator.stats.requests_total - before == 2


async def test_keys_given_the_same_namespace_share_on_purpose(
    emulator: EmulatorServer, gateway_config: Any, start_gateway: Any
) -> None:
    config = gateway_config(emulator).with_layer("cache", {"url": "memory://"})
    store = SQLiteKeyStore(":memory:")
    _, first = await store.create("team-a-1", cache_namespace="team-a")
    _, second = await store.create("team-a-2", cache_namespace="team-a")
    gateway = start_gateway(config=config, keys=store)
    before = emulator.stats.requests_total

    assert await ask(gateway, first, QUESTION) == "miss"
    assert await ask(gateway, second, QUESTION) == "hit"
    assert emulator.stats.requests_total - before == 1
