"""Gemini's explicit context caches with the ``google-genai`` SDK, unchanged, against the emulator,
and through our own adapter: the cached prefix is billed at the cache-read price."""

from collections.abc import Iterator
from typing import Any

import pytest

from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.pricing import cost_of

genai = pytest.importorskip("google.genai", reason="google-genai not installed (pip install -e '.[dev]')")
types = pytest.importorskip("google.genai.types")
errors = pytest.importorskip("google.genai.errors")

MODEL = "gemini-2.5-flash"
MANUAL = "Section {i}: the pump must be primed before it is started, and the valve closed. " * 3
DOCUMENT = "".join(MANUAL.format(i=i) for i in range(60))  # about 3,000 tokens, over the 1,024 minimum


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=2, overrides=ProfileOverrides(fixed_latency_s=0.0))) as running:
        yield running


def sdk(server: EmulatorServer, key: str = "gm-cache-test") -> Any:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=server.url, api_version="v1beta"))


def create(client: Any) -> Any:
    config = types.CreateCachedContentConfig(
        contents=[types.Content(role="user", parts=[types.Part(text=DOCUMENT)])],
        system_instruction="Answer from the manual only.",
        ttl="300s",
        display_name="pump manual",
    )
    return client.caches.create(model=MODEL, config=config)


def test_a_cache_is_created_used_listed_extended_and_deleted(server: EmulatorServer) -> None:
    client = sdk(server)
    cache = create(client)
    assert cache.name.startswith("cachedContents/") and cache.usage_metadata.total_token_count > 1024
    answer = client.models.generate_content(
        model=MODEL, contents="How is the pump started?", config=types.GenerateContentConfig(cached_content=cache.name)
    )
    usage = answer.usage_metadata
    assert answer.text and usage.cached_content_token_count == cache.usage_metadata.total_token_count
    assert usage.prompt_token_count > usage.cached_content_token_count  # the question is on top of the prefix
    assert cache.name in [c.name for c in client.caches.list()]
    later = client.caches.update(name=cache.name, config=types.UpdateCachedContentConfig(ttl="3600s"))
    assert later.expire_time > cache.expire_time
    client.caches.delete(name=cache.name)
    with pytest.raises(errors.ClientError) as gone:
        client.caches.get(name=cache.name)
    assert gone.value.code == 403


def test_the_apis_rules_are_kept(server: EmulatorServer) -> None:
    client = sdk(server)
    cache = create(client)
    with pytest.raises(errors.ClientError, match="system_instruction, tools or tool_config"):
        client.models.generate_content(
            model=MODEL,
            contents="Hi",
            config=types.GenerateContentConfig(cached_content=cache.name, system_instruction="Be brief."),
        )
    stranger = sdk(server, "gm-other-tenant")
    with pytest.raises(errors.ClientError) as other_key:  # another API key does not see it
        stranger.models.generate_content(
            model=MODEL, contents="Hi", config=types.GenerateContentConfig(cached_content=cache.name)
        )
    assert other_key.value.code == 403
    small = types.CreateCachedContentConfig(contents=[types.Content(role="user", parts=[types.Part(text="tiny")])])
    with pytest.raises(errors.ClientError, match="too small"):
        client.caches.create(model=MODEL, config=small)


async def test_our_adapter_passes_the_cache_and_bills_its_tokens_as_reads(
    server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inferopt.client import AsyncClient

    cache = create(sdk(server))
    monkeypatch.setenv("GEMINI_TEST_KEY", "gm-cache-test")  # the key that owns the cache
    config = parse_config(
        {"providers": {"google": {"kind": "gemini", "base_url": server.url, "api_key_env": "GEMINI_TEST_KEY"}}}
    )
    async with AsyncClient(config) as client:
        answer = await client.complete(
            "How is the pump started?", model=f"google/{MODEL}", extra={"cachedContent": cache.name}
        )
    assert answer.usage.cache_read_tokens == cache.usage_metadata.total_token_count
    assert answer.cost_usd == pytest.approx(cost_of(answer.usage, MODEL))
    assert answer.cost_usd < cost_of(
        answer.usage.__class__(answer.usage.input_tokens, answer.usage.output_tokens), MODEL
    )
