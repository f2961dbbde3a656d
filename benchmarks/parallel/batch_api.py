"""Batch API vs realtime on the same job: cost, wall time of our side, and splitting over limits.

    python benchmarks/parallel/batch_api.py                 # 5,000 reviews per provider (a few minutes)
    python benchmarks/parallel/batch_api.py --wire gemini   # one provider
    python benchmarks/parallel/batch_api.py --full          # 20,000 per provider, batches of 5,000

One emulator in its own process (zero latency, batches complete at once, 5% of batch lines
errored). For each provider the same classification job ("Classify sentiment: ...", max_tokens
5) runs three ways: realtime (our adapter, concurrency 50), through the Batch API in one
provider batch, and split into provider batches of --batch-size. The table reports the cost
(realtime prices for the realtime run, batch prices for the others, both from the same
catalog and the emulator's reported usage), our client's wall time for submit + fetch (a real
provider adds its queueing time: minutes to 24 h), and the estimate of
``estimate_batch_savings`` next to the measured figures.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import replace

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.parallel.batch_api import (
    ANTHROPIC_LIMITS,
    GEMINI_LIMITS,
    OPENAI_LIMITS,
    AnthropicBatch,
    BatchAPI,
    BatchJobs,
    GeminiBatch,
    OpenAIBatch,
    estimate_batch_savings,
)
from inferopt.pricing import cost_of
from inferopt.providers.anthropic import AnthropicModel
from inferopt.providers.base import Provider
from inferopt.providers.gemini import GeminiModel
from inferopt.providers.openai import OpenAIChatModel
from inferopt.types import ChatRequest, Model, Usage

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}
# Per wire: the realtime adapter, the Batch API client and its limits.
WIRES = {
    "openai": (OpenAIChatModel, OpenAIBatch, OPENAI_LIMITS),
    "anthropic": (AnthropicModel, AnthropicBatch, ANTHROPIC_LIMITS),
    "gemini": (GeminiModel, GeminiBatch, GEMINI_LIMITS),
}


def job(n: int, model: str) -> list[tuple[str, ChatRequest]]:
    return [
        (
            f"review-{i}",
            ChatRequest.of(
                f"Classify sentiment: review {i}: the delivery was {'late' if i % 3 else 'fast'} and the item "
                f"{'broke' if i % 5 else 'works'}.",
                model=model,
                system="Answer positive, negative or neutral.",
                max_tokens=5,
            ),
        )
        for i in range(n)
    ]


async def realtime(model: Model, items: list[tuple[str, ChatRequest]], concurrency: int) -> tuple[float, float, int]:
    gate = asyncio.Semaphore(concurrency)
    usage = Usage()
    failed = 0

    async def one(request: ChatRequest) -> None:
        nonlocal usage, failed
        async with gate:
            try:
                response = await model.complete(request)
            except Exception:
                failed += 1
                return
            usage += response.usage  # after the await: `usage += await ...` would lose concurrent updates

    started = time.perf_counter()
    await asyncio.gather(*(one(r) for _, r in items))
    await model.aclose()
    return time.perf_counter() - started, cost_of(usage, items[0][1].model), failed


async def batched(api: BatchAPI, items: list[tuple[str, ChatRequest]]) -> tuple[float, float, int, int]:
    jobs = BatchJobs(api, provider_name=api.wire)
    started = time.perf_counter()
    submitted = await jobs.submit(items)
    while not (await jobs.status(submitted)).finished:
        await asyncio.sleep(0.05)
    results = await jobs.results(submitted)
    wall = time.perf_counter() - started
    await api.aclose()
    cost = sum(r.response.cost_usd or 0.0 for r in results if r.response is not None)
    return wall, cost, sum(1 for r in results if not r.ok), len(submitted.batches)


def provider(server: EmulatorServer, wire: str) -> Provider:
    base = server.openai_base_url if wire == "openai" else server.url  # Anthropic and Gemini: the root
    return Provider(wire, base, api_key="sk-bench")


async def main(n: int, batch_size: int, concurrency: int, wires: list[str]) -> None:
    config = EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0), batch_delay_s=0.0, batch_error_rate=0.05)
    rows = []
    with EmulatorServer(config, subprocess=True) as server:
        for wire in wires:
            model, (live_model, batch_api, limits) = MODELS[wire], WIRES[wire]
            items = job(n, model)
            estimate = estimate_batch_savings([r for _, r in items], model)
            adapter: Model = live_model(provider(server, wire))
            live_wall, live_cost, live_failed = await realtime(adapter, items, concurrency)
            rows.append((wire, "realtime", 1, live_wall, live_cost, live_failed, estimate.realtime_usd))
            for label, size in (("batch API", limits.max_requests), (f"batch API, {batch_size}/batch", batch_size)):
                custom = replace(limits, max_requests=min(size, limits.max_requests))
                api: BatchAPI = batch_api(provider(server, wire), custom)
                wall, cost, failed, batches = await batched(api, items)
                rows.append((wire, label, batches, wall, cost, failed, estimate.batch_usd))
    print(f"\n{n:,} requests per provider; batch lines errored at 5% (seeded); realtime concurrency {concurrency}\n")
    header = f"{'provider':<10} {'path':<24} {'batches':>7} {'wall s':>7} {'req/s':>8} {'failed':>6} "
    print(header + f"{'cost USD':>10} {'vs realtime':>11} {'estimate USD':>12}")
    realtime_cost = {r[0]: r[4] for r in rows if r[1] == "realtime"}
    for wire, label, batches, wall, cost, failed, est in rows:
        ratio = cost / realtime_cost[wire] if realtime_cost[wire] else 0.0
        print(
            f"{wire:<10} {label:<24} {batches:>7} {wall:>7.2f} {n / wall:>8.0f} {failed:>6} "
            f"{cost:>10.5f} {ratio:>11.3f} {est:>12.5f}"
        )
    print(
        "\ncost ratio < 0.5 on batch rows: the 5% errored batch lines are not billed; per answered line the "
        "batch price is exactly half (see tests/batch_api)."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=None, help="requests per provider (default 5,000; --full 20,000)")
    parser.add_argument("--batch-size", type=int, default=None, help="requests per batch in the split run (1,000)")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--wire", choices=sorted(WIRES), action="append", help="only this provider (repeatable)")
    parser.add_argument("--full", action="store_true", help="20,000 requests per provider, batches of 5,000")
    args = parser.parse_args()
    n = args.n or (20_000 if args.full else 5_000)
    size = args.batch_size or (5_000 if args.full else 1_000)
    asyncio.run(main(n, size, args.concurrency, args.wire or list(WIRES)))
