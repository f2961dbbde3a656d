"""Throughput of many requests against the emulator: our client vs the usual alternatives, one run.

    python benchmarks/parallel/throughput.py            # both scenarios of the issue
    python benchmarks/parallel/throughput.py --quick    # small and fast, for a smoke check

Scenarios (the emulator runs in its own process with a fixed latency, so every request takes
exactly ``latency`` seconds upstream):

- efficiency: ``AsyncClient.map`` at concurrency C vs the ideal ``N * latency / C``, side by side
  with the naive loop people write (``asyncio.gather`` over all N tasks + a semaphore, using the
  official ``openai.AsyncOpenAI``) and with sequential processing (measured on a sample of
  sequential calls and scaled to N: running 1,000 one-second calls one by one takes 17 minutes).
- overhead: requests/s and CPU per request of ``AsyncClient.map`` vs raw ``openai.AsyncOpenAI``
  at the same concurrency against a zero-latency emulator, and of our client on its httpx
  transport (the measurement behind our own HTTP/1.1 client, ``providers/http1.py``, carrying chat calls).

CPU per request is measured in each process (``getrusage`` here, ``process_cpu_s`` of the emulator's
``/emulator/stats`` there), so where the time goes is known independently of the machine's noise.
Every row runs on the same emulator settings and loop (``--loop``: asyncio, the default, or uvloop).
Prints a table; ratios are what to compare (this machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import openai

from inferopt.client import AsyncClient
from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.providers.base import Provider
from inferopt.providers.openai import OpenAIChatModel
from inferopt.types import ChatRequest

MODEL = "gpt-4o-mini"


@dataclass
class Result:
    scenario: str
    method: str
    n: int
    concurrency: int
    wall_s: float
    cpu_s: float
    ideal_s: float | None = None
    failed: int = 0

    @property
    def rps(self) -> float:
        return self.n / self.wall_s

    def row(self) -> str:
        efficiency = f"{self.ideal_s / self.wall_s:6.1%}" if self.ideal_s else "     -"
        return (
            f"{self.scenario:<22} {self.method:<34} {self.n:>6} {self.concurrency:>5} {self.wall_s:>9.2f} "
            f"{self.rps:>9.0f} {efficiency:>10} {self.cpu_s / self.n * 1e6:>9.0f} {self.failed:>6}"
        )


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def timed(run: Callable[[], Awaitable[int]]) -> tuple[float, float, int]:
    cpu, start = cpu_now(), time.perf_counter()
    failed = await run()
    return time.perf_counter() - start, cpu_now() - cpu, failed


def requests(n: int) -> list[ChatRequest]:
    return [ChatRequest.of(f"Classify review {i}: fine", model=MODEL, max_tokens=5) for i in range(n)]


async def ours(base_url: str, n: int, concurrency: int) -> int:
    config = parse_config({"providers": {"emu": {"kind": "openai", "base_url": base_url, "api_key_env": "EMU_KEY"}}})
    async with AsyncClient(config) as client:
        results = await client.map(requests(n), concurrency=concurrency)
    return sum(1 for r in results if isinstance(r, Exception))


async def ours_httpx(base_url: str, n: int, concurrency: int) -> int:
    """The same client with the httpx transport instead of our HTTP/1.1 client (why that is the default)."""
    provider = Provider("emu", base_url, api_key="sk-bench", transport=httpx.AsyncHTTPTransport())
    async with AsyncClient(parse_config({}), models={MODEL: OpenAIChatModel(provider)}) as client:
        results = await client.map(requests(n), concurrency=concurrency)
    return sum(1 for r in results if isinstance(r, Exception))


async def naive_sdk(base_url: str, n: int, concurrency: int) -> int:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": f"Classify review {i}: fine"}], max_tokens=5
            )

    outcomes = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    await client.close()
    return sum(1 for o in outcomes if isinstance(o, BaseException))


async def sequential_sample(base_url: str, sample: int) -> float:
    """Mean wall time of one call when calls run one after another."""
    config = parse_config({"providers": {"emu": {"kind": "openai", "base_url": base_url, "api_key_env": "EMU_KEY"}}})
    async with AsyncClient(config) as client:
        start = time.perf_counter()
        for request in requests(sample):
            await client.complete(request)
    return (time.perf_counter() - start) / sample


def emulator(latency: float) -> EmulatorServer:
    return EmulatorServer(EmulatorConfig(seed=1, overrides=ProfileOverrides(fixed_latency_s=latency)), subprocess=True)


async def efficiency(n: int, latency: float, concurrency: int) -> list[Result]:
    name = f"efficiency {latency * 1000:g}ms"
    ideal = n * latency / concurrency
    out = []
    with emulator(latency) as server:
        for method, run in (("inferopt AsyncClient.map", ours), ("naive gather+semaphore (openai SDK)", naive_sdk)):
            wall, cpu, failed = await timed(lambda run=run: run(server.openai_base_url, n, concurrency))
            out.append(Result(name, method, n, concurrency, wall, cpu, ideal, failed))
        per_call = await sequential_sample(server.openai_base_url, sample=max(3, min(20, int(5 / latency))))
        out.append(Result(name, "sequential (sampled, scaled to N)", n, 1, per_call * n, 0.0, ideal))
    return out


async def overhead(n: int, concurrency: int) -> list[Result]:
    out = []
    with emulator(0.0) as server:
        methods = (
            ("inferopt AsyncClient.map", ours),
            ("inferopt, httpx transport", ours_httpx),
            ("raw openai.AsyncOpenAI + semaphore", naive_sdk),
        )
        for method, run in methods:
            await run(server.openai_base_url, min(n, 200), concurrency)  # warm up connections and imports
            wall, cpu, failed = await timed(lambda run=run: run(server.openai_base_url, n, concurrency))
            out.append(Result("overhead (0 ms upstream)", method, n, concurrency, wall, cpu, None, failed))
    return out


async def main(quick: bool) -> None:
    import os

    os.environ.setdefault("EMU_KEY", "sk-bench")
    results: list[Result] = []
    if quick:
        results += await efficiency(200, 0.2, 50)
        results += await overhead(1000, 50)
    else:
        results += await efficiency(1000, 1.0, 50)
        results += await efficiency(10_000, 0.05, 200)
        results += await overhead(5000, 100)
    print(
        f"{'scenario':<22} {'method':<34} {'N':>6} {'conc':>5} {'wall s':>9} {'req/s':>9} {'efficiency':>10} "
        f"{'CPU µs/req':>9} {'failed':>6}"
    )
    for result in results:
        print(result.row())
    ours_rps = {r.scenario: r.rps for r in results if r.method == "inferopt AsyncClient.map"}
    sdk_rps = {r.scenario: r.rps for r in results if "openai" in r.method}
    for scenario, rps in ours_rps.items():
        if scenario in sdk_rps:
            print(f"{scenario}: inferopt / openai SDK requests/s ratio = {rps / sdk_rps[scenario]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
