"""Exact answer cache: hit latency per backend vs the emulator's fastest miss, a replayed workload
with repeats (upstream calls and cost with and without the cache), and single-flight.

    python benchmarks/cache/bench_exact.py                       # full run (10,000 requests)
    python benchmarks/cache/bench_exact.py --requests 2000 --hits 500   # quick

Everything runs in one process against the emulator over loopback HTTP (subprocess mode, so its
CPU does not share our event loop), with a real SQLite file and the Redis at 127.0.0.1:6379
(skipped, and said so, when it is down). Figures are ratios within one run: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from inferopt.cache import Cached, MemoryBackend, SQLiteBackend
from inferopt.cache.backend import CacheBackend
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.pricing import cost_of
from inferopt.providers.base import Provider
from inferopt.providers.openai import OpenAIChatModel
from inferopt.types import ChatRequest, Model

MODEL = "gpt-4o-mini"
REDIS_URL = "redis://127.0.0.1:6379/14"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def request(i: int) -> ChatRequest:
    return ChatRequest.of(
        f"Question {i}: explain topic {i} in two sentences.", model=MODEL, temperature=0, max_tokens=60
    )


async def timed(calls: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    out = []
    for i in range(calls):
        start = time.perf_counter()
        await call(i)
        out.append(time.perf_counter() - start)
    return out


async def backends(folder: Path) -> list[tuple[str, CacheBackend]]:
    found: list[tuple[str, CacheBackend]] = [("memory", MemoryBackend()), ("sqlite", SQLiteBackend(folder / "c.db"))]
    try:
        from inferopt.cache.redis import RedisBackend

        redis = RedisBackend(REDIS_URL, prefix=f"bench:{random.random()}:")
        await redis.entry_counts()
        found.append(("redis", redis))
    except Exception as exc:
        print(f"(Redis skipped: {exc})")
    return found


async def hit_latency(upstream: Model, folder: Path, hits: int) -> None:
    misses = await timed(hits // 5, lambda i: upstream.complete(request(10_000_000 + i)))
    base = statistics.median(misses)
    print(f"\n1) hit latency, {hits} hits per backend; emulator miss (zero added latency) p50 {base * 1e3:.2f} ms")
    print(f"{'path':<22}{'p50 ms':>9}{'p99 ms':>9}{'miss p50 / p50':>16}")
    print(f"{'emulator fastest miss':<22}{base * 1e3:>9.2f}{percentile(misses, 0.99) * 1e3:>9.2f}{1.0:>16.1f}")
    for name, backend in await backends(folder):
        cached = Cached(upstream, backend)
        await cached.complete(request(0))
        samples = await timed(hits, lambda i, model=cached: model.complete(request(0)))
        p50 = statistics.median(samples)
        print(f"{'hit ' + name:<22}{p50 * 1e3:>9.3f}{percentile(samples, 0.99) * 1e3:>9.3f}{base / p50:>16.1f}")
        await backend.clear()
        await backend.aclose()


async def replay(upstream: Model, server: EmulatorServer, folder: Path, total: int) -> None:
    rng = random.Random(7)
    unique = int(total * 0.4)
    workload = list(range(unique)) + [rng.randrange(unique) for _ in range(total - unique)]
    rng.shuffle(workload)  # 60% of requests repeat an earlier or later one

    async def run(model: Model) -> tuple[float, float, int]:
        before = server.stats_snapshot()["requests_total"]
        cost = 0.0
        semaphore = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            nonlocal cost
            async with semaphore:
                response = await model.complete(request(i))
                if response.cache != "hit":
                    cost += cost_of(response.usage, MODEL)

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in workload))
        return time.perf_counter() - start, cost, server.stats_snapshot()["requests_total"] - before

    plain = await run(upstream)
    cached_model = Cached(upstream, SQLiteBackend(folder / "replay.db"))
    cached = await run(cached_model)
    print(f"\n2) replay: {total} requests, {total - unique} repeats (60%), SQLite cache, 32 in flight")
    print(f"{'':<14}{'upstream calls':>16}{'cost USD':>12}{'wall s':>9}")
    for name, (wall, cost, calls) in (("no cache", plain), ("cache", cached)):
        print(f"{name:<14}{calls:>16}{cost:>12.4f}{wall:>9.2f}")
    print(f"ratio          {plain[2] / cached[2]:>16.2f}{plain[1] / cached[1]:>12.2f}{plain[0] / cached[0]:>9.2f}")
    stats = cached_model.local_stats()["default"]
    print(
        f"cache stats: hit rate {stats.hit_rate:.1%}, saved ${stats.saved_usd:.4f}, tokens saved "
        f"{stats.saved_input_tokens + stats.saved_output_tokens:,}"
    )


async def single_flight(slow_server: EmulatorServer, folder: Path) -> None:
    print("\n3) single-flight: 100 concurrent identical requests (emulator answers in 0.3 s)")
    print(f"{'backend':<22}{'upstream calls':>16}")
    for name, backend in await backends(folder):
        upstream = OpenAIChatModel(Provider("emu", slow_server.openai_base_url, api_key="sk-bench-sf"))
        before = slow_server.stats_snapshot()["requests_total"]
        cached = Cached(upstream, backend)
        await asyncio.gather(*(cached.complete(request(hash(name) % 1000 + 5_000_000)) for _ in range(100)))
        print(f"{name:<22}{slow_server.stats_snapshot()['requests_total'] - before:>16}")
        if name == "redis":
            from inferopt.cache.redis import RedisBackend

            assert isinstance(backend, RedisBackend)
            other = RedisBackend(REDIS_URL, prefix=backend.prefix)
            before = slow_server.stats_snapshot()["requests_total"]
            pair = (Cached(upstream, backend), Cached(upstream, other))
            await asyncio.gather(*(c.complete(request(6_000_000)) for c in pair for _ in range(50)))
            calls = slow_server.stats_snapshot()["requests_total"] - before
            print(f"{'redis, 2 instances':<22}{calls:>16}")
            await other.aclose()
        await backend.clear()
        await backend.aclose()
        await upstream.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--hits", type=int, default=2000)
    args = parser.parse_args()
    fast = EmulatorConfig(seed=1, overrides=ProfileOverrides(fixed_latency_s=0.0, rpm=10**9, tpm=10**12))
    slow = EmulatorConfig(seed=1, overrides=ProfileOverrides(fixed_latency_s=0.3, rpm=10**9, tpm=10**12))
    with tempfile.TemporaryDirectory() as tmp, EmulatorServer(fast, subprocess=True) as server:
        folder = Path(tmp)
        upstream = OpenAIChatModel(Provider("emu", server.openai_base_url, api_key="sk-bench"))
        await hit_latency(upstream, folder, args.hits)
        await replay(upstream, server, folder, args.requests)
        await upstream.aclose()
        with EmulatorServer(slow, subprocess=True) as slow_server:
            await single_flight(slow_server, folder)


if __name__ == "__main__":
    asyncio.run(main())
