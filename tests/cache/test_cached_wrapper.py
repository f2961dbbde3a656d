"""``Cached`` over in-process fakes and real backends (memory, a SQLite file, Redis at 127.0.0.1)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from inferopt.cache import Cached, CachePolicy, MemoryBackend, SQLiteBackend
from inferopt.cache.backend import CacheBackend
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest, ChatResponse, StreamDone, TextDelta, ThinkingPart, Usage

REQUEST = ChatRequest.of("Name three primes.", model="gpt-4o-mini", temperature=0)


def answer_of(request: ChatRequest) -> str:
    return f"answer to {request.last_user_text} #{len(request.messages)}"


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CacheBackend]:
    if request.param == "memory":
        yield MemoryBackend()
    elif request.param == "sqlite":
        sqlite_backend = SQLiteBackend(tmp_path / "cache.db")
        yield sqlite_backend
        await sqlite_backend.aclose()
    else:
        from inferopt.cache.redis import RedisBackend

        redis_backend = RedisBackend(
            request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix")
        )
        yield redis_backend
        await redis_backend.clear()
        await redis_backend.aclose()


async def test_second_identical_request_is_a_hit_with_original_usage_and_savings(backend: CacheBackend) -> None:
    upstream = FunctionModel(answer_of)
    cached = Cached(upstream, backend)
    first = await cached.complete(REQUEST)
    second = await cached.complete(REQUEST)
    assert len(upstream.calls) == 1
    assert first.cache == "miss"
    assert second.cache == "hit"
    assert second.content == first.content
    assert second.usage == first.usage
    assert second.annotations["cache_saved_usd"] > 0  # gpt-4o-mini is in the catalog
    stats = cached.local_stats()["default"]
    assert (stats.hits, stats.misses, stats.upstream_calls) == (1, 1, 1)
    assert stats.hit_rate == 0.5
    assert stats.saved_output_tokens == first.usage.output_tokens


async def test_stream_hit_replays_the_chunks_and_final_usage(backend: CacheBackend) -> None:
    upstream = FunctionModel(answer_of, chunk_size=5)
    cached = Cached(upstream, backend)
    live = [e async for e in cached.stream(REQUEST)]
    replayed = [e async for e in cached.stream(REQUEST)]
    assert len(upstream.calls) == 1
    live_chunks = [e.text for e in live if isinstance(e, TextDelta)]
    assert [e.text for e in replayed if isinstance(e, TextDelta)] == live_chunks
    assert len(live_chunks) > 1
    done_live, done_hit = live[-1], replayed[-1]
    assert isinstance(done_live, StreamDone) and isinstance(done_hit, StreamDone)
    assert done_hit.response.usage == done_live.response.usage
    assert done_hit.response.cache == "hit"


async def test_a_hit_keeps_thinking_signatures_and_tool_calls_byte_exact(backend: CacheBackend) -> None:
    # A replayed answer goes back to the provider next turn: a changed signature would be refused.
    thinking = [ThinkingPart("weigh the options", "EqQBCgIYAhIM+/=="), ThinkingPart(redacted_data="opaque==")]
    call = {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}

    def answer(request: ChatRequest) -> ChatResponse:
        return ChatResponse("r", request.model, "", Usage(5, 3), "tool_calls", tool_calls=[call], thinking=thinking)

    upstream = FunctionModel(answer)
    cached = Cached(upstream, backend)
    await cached.complete(REQUEST)
    hit = await cached.complete(REQUEST)
    replayed = [e async for e in cached.stream(REQUEST)]
    assert len(upstream.calls) == 1 and hit.cache == "hit"
    assert hit.thinking == thinking and hit.tool_calls == [call]
    done = replayed[-1]
    assert isinstance(done, StreamDone) and done.response.thinking == thinking


async def test_complete_and_stream_share_entries(backend: CacheBackend) -> None:
    upstream = FunctionModel(answer_of)
    cached = Cached(upstream, backend)
    await cached.complete(REQUEST)
    events = [e async for e in cached.stream(REQUEST)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == answer_of(REQUEST)
    assert len(upstream.calls) == 1


async def test_tenants_do_not_share_entries(backend: CacheBackend) -> None:
    upstream = FunctionModel(answer_of)
    cached = Cached(upstream, backend)
    await cached.complete(replace(REQUEST, options={"namespace": "tenant-a"}))
    hit = await cached.complete(replace(REQUEST, options={"namespace": "tenant-a"}))
    other = await cached.complete(replace(REQUEST, options={"namespace": "tenant-b"}))
    assert hit.cache == "hit"
    assert other.cache == "miss"
    assert len(upstream.calls) == 2
    assert set(await backend.entry_counts()) == {"tenant-a", "tenant-b"}


async def test_stats_reach_the_backend_and_clear_is_per_namespace(backend: CacheBackend) -> None:
    cached = Cached(FunctionModel(answer_of), backend)
    for namespace in ("a", "a", "b"):
        await cached.complete(replace(REQUEST, options={"namespace": namespace}))
    await cached.flush_stats()
    stats = await backend.read_stats()
    assert stats["a"]["hits"] == 1 and stats["a"]["misses"] == 1 and stats["b"]["misses"] == 1
    assert await backend.clear("a") == 1
    assert await backend.entry_counts() == {"b": 1}
    assert "a" not in await backend.read_stats()


async def test_bypass_refresh_and_nondeterministic_requests() -> None:
    upstream = FunctionModel(answer_of)
    cached = Cached(upstream, MemoryBackend())
    await cached.complete(REQUEST)
    bypassed = await cached.complete(replace(REQUEST, options={"cache": "bypass"}))
    refreshed = await cached.complete(replace(REQUEST, options={"cache": "refresh"}))
    warm = await cached.complete(replace(REQUEST, temperature=0.8))
    warm_again = await cached.complete(replace(REQUEST, temperature=0.8))
    assert [bypassed.cache, refreshed.cache] == ["bypass", "refresh"]
    assert [warm.cache, warm_again.cache] == ["bypass", "bypass"]
    assert len(upstream.calls) == 5
    assert (await cached.complete(REQUEST)).cache == "hit"


async def test_refresh_overwrites_the_entry() -> None:
    answers = iter(["old", "new"])
    cached = Cached(FunctionModel(lambda r: next(answers)), MemoryBackend())
    await cached.complete(REQUEST)
    await cached.complete(replace(REQUEST, options={"cache": "refresh"}))
    assert (await cached.complete(REQUEST)).content == "new"


async def test_single_flight_in_process_makes_one_upstream_call(backend: CacheBackend) -> None:
    async def slow(request: ChatRequest) -> str:
        await asyncio.sleep(0.05)
        return answer_of(request)

    upstream = FunctionModel(slow)
    cached = Cached(upstream, backend)
    responses = await asyncio.gather(*(cached.complete(REQUEST) for _ in range(100)))
    assert len(upstream.calls) == 1
    assert {r.content for r in responses} == {answer_of(REQUEST)}
    assert sum(r.cache == "miss" for r in responses) == 1


async def test_single_flight_across_processes_through_redis(redis_backend: CacheBackend) -> None:
    from inferopt.cache.redis import RedisBackend

    assert isinstance(redis_backend, RedisBackend)
    # A second backend with its own connections stands for another process sharing the Redis.
    other = RedisBackend(redis_backend.url, prefix=redis_backend.prefix)

    async def slow(request: ChatRequest) -> str:
        await asyncio.sleep(0.2)
        return answer_of(request)

    upstream = FunctionModel(slow)
    first, second = Cached(upstream, redis_backend), Cached(upstream, other)
    try:
        responses = await asyncio.gather(*(c.complete(REQUEST) for c in (first, second) for _ in range(10)))
    finally:
        await other.aclose()
    assert len(upstream.calls) == 1
    assert {r.content for r in responses} == {answer_of(REQUEST)}


async def test_a_failed_leader_does_not_fail_its_followers() -> None:
    calls = 0

    async def flaky(request: ChatRequest) -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)
        if calls == 1:
            raise RuntimeError("upstream broke")
        return "ok"

    cached = Cached(FunctionModel(flaky), MemoryBackend())
    results = await asyncio.gather(*(cached.complete(REQUEST) for _ in range(5)), return_exceptions=True)
    assert sum(isinstance(r, RuntimeError) for r in results) == 1
    assert [r.content for r in results if not isinstance(r, BaseException)] == ["ok"] * 4
    assert calls == 2


async def test_stream_closed_early_is_not_stored() -> None:
    upstream = FunctionModel(answer_of, chunk_size=3)
    cached = Cached(upstream, MemoryBackend())
    events = cached.stream(REQUEST)
    async for _ in events:
        break
    await events.aclose()  # type: ignore[attr-defined]
    assert (await cached.complete(REQUEST)).cache == "miss"


class BrokenBackend(MemoryBackend):
    async def get(self, key: str) -> bytes | None:
        raise ConnectionError("backend down")

    async def set(self, key: str, value: bytes, ttl_s: float | None) -> None:
        raise ConnectionError("backend down")


async def test_backend_failure_fails_open_with_a_warning_and_a_counter(caplog: pytest.LogCaptureFixture) -> None:
    upstream = FunctionModel(answer_of)
    cached = Cached(upstream, BrokenBackend())
    with caplog.at_level(logging.WARNING, logger="inferopt.cache"):
        first = await cached.complete(REQUEST)
        second = await cached.complete(REQUEST)
    assert first.content == second.content == answer_of(REQUEST)
    assert len(upstream.calls) == 2
    assert cached.local_stats()["default"].backend_errors == 4
    assert "fail-open" in caplog.text
    assert len(caplog.records) == 2  # one per operation, not one per request


async def test_redis_down_fails_open(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("redis", reason="the redis package is not installed: pip install 'inferopt[redis]'")
    from inferopt.cache.redis import RedisBackend

    upstream = FunctionModel(answer_of)
    cached = Cached(upstream, RedisBackend("redis://127.0.0.1:1/0", socket_timeout_s=0.2))
    with caplog.at_level(logging.WARNING, logger="inferopt.cache"):
        response = await cached.complete(REQUEST)
    await cached.backend.aclose()
    assert response.content == answer_of(REQUEST)
    assert cached.local_stats()["default"].backend_errors >= 1


async def test_locked_sqlite_fails_open(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "cache.db", busy_timeout_s=0.01)
    holder = sqlite3.connect(tmp_path / "cache.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        upstream = FunctionModel(answer_of)
        cached = Cached(upstream, backend)
        response = await cached.complete(REQUEST)
        assert response.content == answer_of(REQUEST)
        assert cached.local_stats()["default"].backend_errors >= 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await backend.aclose()


async def test_sqlite_entries_survive_a_restart(tmp_path: Path) -> None:
    first = Cached(FunctionModel(answer_of), SQLiteBackend(tmp_path / "c.db"))
    await first.complete(REQUEST)
    await first.aclose()
    upstream = FunctionModel(answer_of)
    second = Cached(upstream, SQLiteBackend(tmp_path / "c.db"))
    assert (await second.complete(REQUEST)).cache == "hit"
    assert upstream.calls == []
    await second.aclose()


async def test_ttl_expires_entries_on_the_injected_clock() -> None:
    now = [1000.0]
    backend = MemoryBackend(clock=lambda: now[0])
    upstream = FunctionModel(answer_of)
    cached = Cached(upstream, backend, CachePolicy(ttl_s=60))
    await cached.complete(REQUEST)
    now[0] += 59
    assert (await cached.complete(REQUEST)).cache == "hit"
    now[0] += 2
    assert (await cached.complete(REQUEST)).cache == "miss"


async def test_memory_backend_evicts_least_recently_used_by_count_and_bytes() -> None:
    backend = MemoryBackend(max_entries=2, max_bytes=100)
    await backend.set("n:a", b"x" * 10, None)
    await backend.set("n:b", b"x" * 10, None)
    await backend.get("n:a")  # a is now the most recently used
    await backend.set("n:c", b"x" * 10, None)
    assert await backend.get("n:b") is None and await backend.get("n:a") is not None
    await backend.set("n:d", b"x" * 95, None)
    assert len(backend) == 1 and backend.size_bytes == 95
