"""The cache chosen by URL, from a config stack, and looked into with `inferopt cache stats|clear`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from inferopt.cache import Cached, MemoryBackend, SQLiteBackend, backend_from_url, cache_from_url
from inferopt.cli.main import cli
from inferopt.client import AsyncClient
from inferopt.config import parse_config
from inferopt.errors import ConfigError
from inferopt.stack import build_stack
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest


def test_urls_select_backends(tmp_path: Path, redis_url: str) -> None:
    assert isinstance(backend_from_url("memory://?max_entries=5"), MemoryBackend)
    sqlite = backend_from_url(f"sqlite:///{tmp_path}/sub/c.db")
    assert isinstance(sqlite, SQLiteBackend) and sqlite.path == tmp_path / "sub" / "c.db"
    from inferopt.cache.redis import RedisBackend

    redis = backend_from_url(f"{redis_url}?prefix=app:")
    assert isinstance(redis, RedisBackend) and redis.prefix == "app:"


def test_bad_urls_and_options_are_named() -> None:
    with pytest.raises(ConfigError, match=r"unknown cache URL 'postgres://x'.*memory://"):
        backend_from_url("postgres://x")
    with pytest.raises(ConfigError, match="no file path"):
        backend_from_url("sqlite://")
    with pytest.raises(ConfigError, match=r"unknown cache option\(s\) \['tll_s'\]"):
        cache_from_url("memory://", tll_s=5)


async def test_cache_from_url_wraps_a_model_with_its_options() -> None:
    wrap = cache_from_url("memory://", namespace="tenant-a", ttl_s=60)
    cached = wrap(FunctionModel(lambda r: "hi"))
    assert isinstance(cached, Cached) and cached.policy.namespace == "tenant-a" and cached.policy.ttl_s == 60


async def test_config_stack_layers_cache_and_prompt_cache(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/stack.db"
    config = parse_config({"stack": [{"cache": {"url": url, "namespace": "app"}}, {"prompt_cache": {"ttl": "1h"}}]})
    upstream = FunctionModel(lambda r: "four")
    async with AsyncClient(config, models={"gpt-4o-mini": upstream}) as client:
        first = await client.complete("2+2?", model="gpt-4o-mini", temperature=0)
        second = await client.complete("2+2?", model="gpt-4o-mini", temperature=0)
    assert len(upstream.calls) == 1
    assert first.cache == "miss" and second.cache == "hit"
    assert second.annotations["cache_namespace"] == "app" and "prompt_cache" in first.annotations


def test_bad_stack_options_are_config_errors() -> None:
    config = parse_config({"stack": [{"prompt_cache": {"ttl": "2h"}}]})
    with pytest.raises(ConfigError, match=r"bad options for 'prompt_cache': ttl must be"):
        build_stack(FunctionModel(lambda r: "x"), config.stack)


def test_cli_stats_and_clear(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"

    async def fill() -> None:
        cached = cache_from_url(url)(FunctionModel(lambda r: "answer"))
        for namespace in ("a", "a", "a", "b"):
            request = ChatRequest.of("q", model="gpt-4o-mini", temperature=0, options={"namespace": namespace})
            await cached.complete(request)
        await cached.aclose()

    asyncio.run(fill())
    runner = CliRunner()
    shown = runner.invoke(cli, ["cache", "stats", "--cache", url])
    assert shown.exit_code == 0, shown.output
    assert "66.7%" in shown.output and "USD saved" in shown.output
    cleared = runner.invoke(cli, ["cache", "clear", "--cache", url, "--namespace", "a", "--yes"])
    assert cleared.exit_code == 0 and "removed 1 entries" in cleared.output
    after = runner.invoke(cli, ["cache", "stats", "--cache", url])
    assert " a " not in after.output and "b" in after.output
    bad = runner.invoke(cli, ["cache", "stats", "--cache", "ftp://nope"])
    assert bad.exit_code == 1 and "unknown cache URL" in bad.output


async def test_semantic_layer_from_options() -> None:
    pytest.importorskip("numpy", reason="the semantic cache needs numpy: pip install 'inferopt[semantic]'")
    cached = cache_from_url("memory://", semantic={"embedder": "hashing", "threshold": 0.8})(
        FunctionModel(lambda r: "x")
    )
    await cached.complete(ChatRequest.of("What is the capital of France?", model="gpt-4o-mini", temperature=0))
    similar = await cached.complete(ChatRequest.of("what is the capital of France", model="gpt-4o-mini", temperature=0))
    assert similar.cache == "semantic_hit"
    with pytest.raises(ConfigError, match="unknown semantic cache option"):
        cache_from_url("memory://", semantic={"treshold": 0.8})(FunctionModel(lambda r: "x"))


def test_cli_calibrate_reports_held_out_figures_and_writes_a_calibration(tmp_path: Path) -> None:
    pytest.importorskip("numpy", reason="the semantic cache needs numpy: pip install 'inferopt[semantic]'")
    pairs = tmp_path / "pairs.csv"
    topics = ["rust", "python", "kayaks", "tents", "boots", "stoves", "maps", "ropes", "lamps", "packs"]
    lines = ["question1,question2,is_duplicate"]
    for i in range(300):
        topic, other = topics[i % 10], topics[(i * 7 + 3) % 10]
        lines.append(f"how do i clean my {topic} today,how can i clean my {topic} today,1")
        lines.append(f"how do i clean my {topic} today,where can i buy {other} cheaply,0")
    pairs.write_text("\n".join(lines))
    output = tmp_path / "cal.json"
    result = CliRunner().invoke(
        cli, ["cache", "calibrate", str(pairs), "--embedder", "hashing", "--folds", "2", "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert "held-out pairs only" in result.output and "verifier+guards" in result.output and output.exists()
