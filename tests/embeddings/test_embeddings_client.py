"""``client.embed`` against the emulator over loopback: vectors, usage, cost, and the per-item cache
(only inputs never embedded before go upstream, counted on the emulator; answers keep their order;
tenants never share vectors)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from inferopt.client import AsyncClient, Client
from inferopt.config import Config, parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer
from inferopt.errors import InvalidArgumentError
from inferopt.tokens import count_tokens

MODEL = "text-embedding-3-small"
KEY_ENV = "INFEROPT_TEST_EMBED_KEY"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=5)) as running:
        yield running


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-embed")


def config_for(emulator: EmulatorServer, cache: bool = True) -> Config:
    return parse_config(
        {
            "providers": {"emu": {"kind": "openai", "base_url": emulator.openai_base_url, "api_key_env": KEY_ENV}},
            "models": {"embed": {"provider": "emu", "model": MODEL}},
            "stack": [{"cache": {"url": "memory://"}}] if cache else [],
        }
    )


def upstream(emulator: EmulatorServer) -> tuple[int, int]:
    """(embeddings requests, prompt tokens) the emulator has served."""
    return emulator.stats.by_route["/v1/embeddings"], emulator.stats.prompt_tokens


async def test_ten_inputs_of_which_three_are_cached_send_seven_upstream(emulator: EmulatorServer) -> None:
    texts = [f"document number {i} about topic {i * 7}" for i in range(10)]
    cached = [texts[1], texts[4], texts[8]]
    async with AsyncClient(config_for(emulator)) as client:
        first = await client.embed(cached, model="embed")
        assert first.cache == "miss" and upstream(emulator) == (1, sum(count_tokens(t, MODEL) for t in cached))
        answer = await client.embed(texts, model="embed")
    fresh = [t for t in texts if t not in cached]
    assert len(fresh) == 7
    requests, tokens = upstream(emulator)
    assert requests == 2  # one upstream request for the misses
    assert tokens - first.usage.input_tokens == sum(count_tokens(t, MODEL) for t in fresh)  # only the 7 went
    assert answer.cache == "partial" and answer.annotations["cache_hits"] == 3
    assert answer.annotations["cache_misses"] == 7
    # Order is the request's: the cached vectors sit where their inputs were.
    assert [answer.vectors[i] for i in (1, 4, 8)] == first.vectors
    async with AsyncClient(config_for(emulator, cache=False)) as plain:
        assert (await plain.embed(texts, model="embed")).vectors == answer.vectors
    assert answer.usage.input_tokens == sum(count_tokens(t, MODEL) for t in texts)
    assert answer.cost_usd == pytest.approx(sum(count_tokens(t, MODEL) for t in fresh) * 0.02 / 1e6)


async def test_a_fully_cached_request_sends_nothing_and_costs_nothing(emulator: EmulatorServer) -> None:
    async with AsyncClient(config_for(emulator)) as client:
        await client.embed(["a", "b"], model="embed")
        again = await client.embed(["b", "a", "b"], model="embed")
        assert again.cache == "hit" and again.cost_usd == 0.0 and upstream(emulator)[0] == 1
        bypass = await client.embed(["a"], model="embed", options={"cache": "bypass"})
        assert bypass.cache == "bypass" and upstream(emulator)[0] == 2
        other_dims = await client.embed(["a"], model="embed", dimensions=8)
        assert other_dims.cache == "miss" and len(other_dims.vectors[0]) == 8


async def test_tenants_never_share_vectors(emulator: EmulatorServer) -> None:
    async with AsyncClient(config_for(emulator)) as client:
        await client.embed(["shared text"], model="embed", options={"namespace": "tenant-a"})
        b = await client.embed(["shared text"], model="embed", options={"namespace": "tenant-b"})
        a = await client.embed(["shared text"], model="embed", options={"namespace": "tenant-a"})
    assert b.cache == "miss" and a.cache == "hit" and upstream(emulator)[0] == 2


def test_sync_client_embeds_strings_token_arrays_and_shortened_vectors(emulator: EmulatorServer) -> None:
    with Client(config_for(emulator, cache=False)) as client:
        one = client.embed("hello world", model="embed")
        tokens = client.embed([[15339, 1917], [15339]], model="embed")
        short = client.embed(["hello world"], model="embed", dimensions=32)
    assert len(one.vectors) == 1 and len(one.vectors[0]) == 1536
    assert math.isclose(sum(x * x for x in one.vectors[0]), 1.0, rel_tol=1e-5)
    assert tokens.usage.input_tokens == 3 and len(tokens.vectors) == 2
    assert len(short.vectors[0]) == 32 and math.isclose(sum(x * x for x in short.vectors[0]), 1.0, rel_tol=1e-5)
    assert one.emulated and one.cost_usd is not None and one.cost_usd > 0


async def test_the_anthropic_wire_has_no_embeddings(emulator: EmulatorServer) -> None:
    claude = {"kind": "anthropic", "base_url": emulator.anthropic_base_url, "api_key_env": KEY_ENV}
    config = parse_config({"providers": {"claude": claude}})
    async with AsyncClient(config) as client:
        with pytest.raises(InvalidArgumentError, match="no embeddings"):
            await client.embed("x", model="claude-haiku-4-5")


async def test_retry_and_rate_limit_layers_apply_to_embeddings(emulator: EmulatorServer) -> None:
    provider = {
        "kind": "openai",
        "base_url": emulator.openai_base_url,
        "api_key_env": KEY_ENV,
        "headers": {"x-emulator-fault": "429:0.2*2,ok"},  # two 429s (Retry-After 0.2 s), then answers
    }
    config = parse_config(
        {
            "providers": {"emu": provider},
            "models": {"embed": {"provider": "emu", "model": MODEL}},
            "stack": [{"retry": {"max_attempts": 4}}, {"rate_limit": {"rpm": 600}}],
        }
    )
    async with AsyncClient(config) as client:
        answer = await client.embed(["a", "b"], model="embed")
        assert answer.annotations["attempts"] == 3 and len(answer.vectors) == 2
        assert upstream(emulator)[0] == 3  # two refused, one answered: nothing else sent
        limiter = client._embedders[("emu", MODEL)]
        while not hasattr(limiter, "limiter"):  # under the pricing and the retry layer
            limiter = limiter.inner  # type: ignore[attr-defined]
        assert limiter.limiter.limiter_for(MODEL).rpm is not None  # the rate_limit layer's bucket served it
