"""What bounds the gateway: the provider adapter's HTTP client under concurrency.

One command (from the repository root)::

    python benchmarks/gateway/bench_upstream_client.py

``OpenAIChatModel`` sends closed-loop requests to a zero-delay emulator (its own process) at
concurrency 1, 4 and 32, first over httpx's default transport (httpcore's pool), then over
``raw_transport.RawTransport`` (asyncio streams + httptools, same httpx client API). CPU per
request is this process's CPU time divided by requests.
"""

from __future__ import annotations

import asyncio
import time

import uvloop
from raw_transport import RawTransport

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.providers.base import Provider
from inferopt.providers.openai import OpenAIChatModel
from inferopt.types import ChatRequest

DURATION_S = 3.0


async def closed_loop(url: str, concurrency: int, raw: bool) -> tuple[float, float, float]:
    model = OpenAIChatModel(Provider("emu", url, api_key="sk-bench", transport=RawTransport() if raw else None))
    request = ChatRequest.of("Say hi", model="gpt-4o-mini", max_tokens=16)
    await asyncio.gather(*(model.complete(request) for _ in range(concurrency)))  # warm the pool
    latencies: list[float] = []
    stop_at = time.perf_counter() + DURATION_S

    async def client() -> None:
        while time.perf_counter() < stop_at:
            sent = time.perf_counter()
            await model.complete(request)
            latencies.append(time.perf_counter() - sent)

    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await model.aclose()
    latencies.sort()
    return (
        len(latencies) / elapsed,
        (time.process_time() - cpu) / len(latencies) * 1000,
        latencies[len(latencies) // 2] * 1000,
    )


def main() -> None:
    with EmulatorServer(EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0)), subprocess=True) as emulator:
        print(f"{'client':<26}{'concurrency':>12}{'req/s':>10}{'CPU ms/req':>12}{'p50 ms':>10}")
        for raw in (False, True):
            for concurrency in (1, 4, 32):
                rate, cpu_ms, p50 = uvloop.run(closed_loop(emulator.openai_base_url, concurrency, raw))
                name = "raw asyncio + httptools" if raw else "httpx default (httpcore)"
                print(f"{name:<26}{concurrency:>12}{rate:>10.0f}{cpu_ms:>12.2f}{p50:>10.2f}")


if __name__ == "__main__":
    main()
