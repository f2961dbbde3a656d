"""Gemini context caches through the gateway, with the ``google-genai`` SDK in front and the emulator behind.

A cache created with one virtual key is used by ``generateContent`` (its tokens billed as cached),
is invisible to another key (404), and shared by keys given one cache namespace.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferopt.config import parse_config
from inferopt.emulator import EmulatorServer
from inferopt.gateway.keys_sqlite import SQLiteKeyStore
from inferopt.pricing import cost_of
from inferopt.types import Usage

genai = pytest.importorskip("google.genai", reason="google-genai not installed (pip install -e '.[dev]')")
types = pytest.importorskip("google.genai.types")

KEY_ENV = "INFEROPT_TEST_UPSTREAM_KEY"
MANUAL = "The handbook. " + " ".join(f"rule {i}: keep the tests honest and the modules small." for i in range(220))


def gemini_config(server: EmulatorServer, **more_providers: Any) -> Any:
    return parse_config(
        {
            "providers": {
                "google": {"kind": "gemini", "base_url": server.url, "api_key_env": KEY_ENV},
                **more_providers,
            },
            "models": {"flash": {"provider": "google", "model": "gemini-2.5-flash"}},
            "default_model": "flash",
        },
        source="test-gemini-caches.yaml",
    )


def sdk(gateway: Any, secret: str) -> Any:
    return genai.Client(api_key=secret, http_options=types.HttpOptions(base_url=gateway.url))


def create_cache(client: Any, name: str = "handbook") -> Any:
    config = types.CreateCachedContentConfig(
        contents=[types.Content(role="user", parts=[types.Part(text=MANUAL)])],
        system_instruction="Answer from the handbook.",
        display_name=name,
        ttl="300s",
    )
    return client.caches.create(model="flash", config=config)


def used_by_one_hidden_from_other(cache: Any, user: Any, other: Any) -> None:
    """``user``'s generateContent reads the whole cache as cached tokens; ``other`` cannot see it."""
    answer = user.models.generate_content(
        model="flash", contents="Rule 3?", config=types.GenerateContentConfig(cached_content=cache.name)
    )
    assert answer.usage_metadata.cached_content_token_count == cache.usage_metadata.total_token_count
    with pytest.raises(genai.errors.ClientError) as refused:
        other.caches.get(name=cache.name)
    assert refused.value.code == 404


@pytest.fixture
async def keys() -> Any:
    store = SQLiteKeyStore(":memory:")
    yield store
    await store.aclose()


async def test_a_cache_is_used_priced_as_cached_and_invisible_to_another_key(
    emulator: EmulatorServer, start_gateway: Any, keys: Any
) -> None:
    _, first = await keys.create("tenant-1")
    _, second = await keys.create("tenant-2")
    gateway = start_gateway(config=gemini_config(emulator), keys=keys)
    owner, stranger = sdk(gateway, first), sdk(gateway, second)

    cache = create_cache(owner)
    looked_up = emulator.stats.by_route["/v1beta/cachedContents"]
    assert cache.name.startswith("cachedContents/") and cache.display_name == "handbook"  # our owner tag is hidden
    assert cache.model == "models/gemini-2.5-flash" and cache.usage_metadata.total_token_count >= 1024
    answer = owner.models.generate_content(
        model="flash", contents="What is rule 7?", config=types.GenerateContentConfig(cached_content=cache.name)
    )
    usage = answer.usage_metadata
    assert answer.text and usage.cached_content_token_count == cache.usage_metadata.total_token_count
    assert usage.prompt_token_count > usage.cached_content_token_count
    billed = float(answer.sdk_http_response.headers["x-inferopt-cost-usd"])
    tokens = Usage(
        usage.prompt_token_count, usage.candidates_token_count, cache_read_tokens=usage.cached_content_token_count
    )
    assert billed == pytest.approx(cost_of(tokens, "gemini-2.5-flash"), rel=1e-6)
    assert billed < cost_of(Usage(usage.prompt_token_count, usage.candidates_token_count), "gemini-2.5-flash")
    streamed = list(
        owner.models.generate_content_stream(
            model="flash", contents="And rule 8?", config=types.GenerateContentConfig(cached_content=cache.name)
        )
    )
    assert streamed[-1].usage_metadata.cached_content_token_count == cache.usage_metadata.total_token_count
    assert emulator.stats.by_route["/v1beta/cachedContents"] == looked_up  # the owner is remembered, not asked again

    for call in (
        lambda: stranger.caches.get(name=cache.name),
        lambda: stranger.caches.update(name=cache.name, config=types.UpdateCachedContentConfig(ttl="60s")),
        lambda: stranger.caches.delete(name=cache.name),
        lambda: stranger.models.generate_content(
            model="flash", contents="Rule 7?", config=types.GenerateContentConfig(cached_content=cache.name)
        ),
    ):
        with pytest.raises(genai.errors.ClientError) as refused:
            call()
        assert refused.value.code == 404
    assert [c.name for c in owner.caches.list()] == [cache.name]
    assert list(stranger.caches.list()) == []

    updated = owner.caches.update(name=cache.name, config=types.UpdateCachedContentConfig(ttl="600s"))
    assert updated.name == cache.name and updated.display_name == "handbook"
    lasting = (owner.caches.get(name=cache.name).expire_time - cache.expire_time).total_seconds()
    assert 290 < lasting < 310  # the new TTL (600 s) from now, against the first (300 s) from creation
    owner.caches.delete(name=cache.name)
    with pytest.raises(genai.errors.ClientError):
        owner.caches.get(name=cache.name)


async def test_keys_of_one_cache_namespace_share_caches(
    emulator: EmulatorServer, start_gateway: Any, keys: Any
) -> None:
    _, first = await keys.create("team-1", cache_namespace="team")
    _, second = await keys.create("team-2", cache_namespace="team")
    _, outsider = await keys.create("other")
    gateway = start_gateway(config=gemini_config(emulator), keys=keys)
    author, teammate, other = sdk(gateway, first), sdk(gateway, second), sdk(gateway, outsider)
    cache = create_cache(author, "team-handbook")
    assert teammate.caches.get(name=cache.name).display_name == "team-handbook"
    used_by_one_hidden_from_other(cache, teammate, other)


async def test_a_cache_needs_a_gemini_upstream(emulator: EmulatorServer, start_gateway: Any, keys: Any) -> None:
    config = gemini_config(
        emulator, oa={"kind": "openai", "base_url": emulator.openai_base_url, "api_key_env": KEY_ENV}
    )
    _, secret = await keys.create("tenant")
    gateway = start_gateway(config=config, keys=keys)
    client = sdk(gateway, secret)
    with pytest.raises(genai.errors.ClientError) as refused:
        client.caches.create(model="oa/gpt-4o-mini", config=types.CreateCachedContentConfig(contents=[MANUAL]))
    assert refused.value.code == 400 and "Gemini" in refused.value.message


async def test_inferopt_serve_keeps_tenants_caches_apart(
    emulator: EmulatorServer, pick_port: Any, tmp_path: Path
) -> None:
    # The gateway as a user runs it: `inferopt serve` with a key file, the google-genai SDK in front.
    store = SQLiteKeyStore(str(tmp_path / "keys.db"))
    _, first = await store.create("tenant-1")
    _, second = await store.create("tenant-2")
    await store.aclose()
    (tmp_path / "inferopt.yaml").write_text(
        f"providers:\n  google: {{kind: gemini, base_url: '{emulator.url}', api_key_env: {KEY_ENV}}}\n"
        "models:\n  flash: {provider: google, model: gemini-2.5-flash}\ndefault_model: flash\n"
    )
    port = pick_port()
    command = [sys.executable, "-m", "inferopt", "serve", "--config", "inferopt.yaml", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--keys", "keys.db"], cwd=tmp_path, env=dict(os.environ), stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        owner = genai.Client(api_key=first, http_options=types.HttpOptions(base_url=f"http://127.0.0.1:{port}"))
        stranger = genai.Client(api_key=second, http_options=types.HttpOptions(base_url=f"http://127.0.0.1:{port}"))
        used_by_one_hidden_from_other(create_cache(owner), owner, stranger)
    finally:
        process.terminate()
        process.communicate(timeout=15)
