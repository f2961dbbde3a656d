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
Every row of a scenario runs against the same emulator settings at the same concurrency, each on a
fresh event loop: asyncio's, and for our client also uvloop's when installed (a row says so; the
library itself never installs a loop, the application chooses).
Prints a table; ratios are what to compare (this machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import resource
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import openai

from inferopt.client import AsyncClient
from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.providers.base import Provider
from inferopt.providers.openai import OpenAIChatModel
from inferopt.types import ChatRequest, ChatResponse

MODEL = "gpt-4o-mini"
T = TypeVar("T")


@dataclass
class Result:
    scenario: str
    method: str
    n: int
    concurrency: int
    wall_s: float
    cpu_s: float | None
    emulator_cpu_s: float | None
    ideal_s: float | None = None
    failed: int = 0

    @property
    def rps(self) -> float:
        return self.n / self.wall_s

    def row(self) -> str:
        efficiency = f"{self.ideal_s / self.wall_s:6.1%}" if self.ideal_s else "     -"
        return (
            f"{self.scenario:<24} {self.method:<35} {self.n:>6} {self.concurrency:>5} {self.wall_s:>9.2f} "
            f"{self.rps:>8.0f} {efficiency:>10} {_per_request(self.cpu_s, self.n):>11} "
            f"{_per_request(self.emulator_cpu_s, self.n):>10} {self.failed:>6}"
        )


def _per_request(seconds: float | None, n: int) -> str:
    return "-" if seconds is None else f"{seconds / n * 1e6:.0f}"


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def requests(n: int) -> list[ChatRequest]:
    return [ChatRequest.of(f"Classify review {i}: fine", model=MODEL, max_tokens=5) for i in range(n)]


def failures(results: list[ChatResponse | Exception]) -> int:
    """Answers that are not a successful emulated completion with text."""
    return sum(1 for r in results if isinstance(r, Exception) or not (r.content and r.emulated))


async def ours(base_url: str, n: int, concurrency: int) -> int:
    config = parse_config({"providers": {"emu": {"kind": "openai", "base_url": base_url, "api_key_env": "EMU_KEY"}}})
    async with AsyncClient(config) as client:
        return failures(await client.map(requests(n), concurrency=concurrency))


async def ours_httpx(base_url: str, n: int, concurrency: int) -> int:
    """The same client with the httpx transport instead of our HTTP/1.1 client (why that is the default)."""
    provider = Provider("emu", base_url, api_key="sk-bench", transport=httpx.AsyncHTTPTransport())
    async with AsyncClient(parse_config({}), models={MODEL: OpenAIChatModel(provider)}) as client:
        return failures(await client.map(requests(n), concurrency=concurrency))


async def naive_sdk(base_url: str, n: int, concurrency: int) -> int:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> bool:
        async with gate:
            completion = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": f"Classify review {i}: fine"}], max_tokens=5
            )
        return bool(completion.choices[0].message.content and completion.system_fingerprint == "inferopt-emulator")

    outcomes = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    await client.close()
    return sum(1 for o in outcomes if o is not True)


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


Run = Callable[[str, int, int], Awaitable[int]]


async def measured(scenario: str, method: str, run: Run, server: EmulatorServer, n: int, concurrency: int) -> Result:
    """One row: wall time, CPU of this process and of the emulator process, failures."""
    emulator_cpu = server.stats_snapshot()["process_cpu_s"]
    cpu, start = cpu_now(), time.perf_counter()
    failed = await run(server.openai_base_url, n, concurrency)
    wall, used = time.perf_counter() - start, cpu_now() - cpu
    emulator_used = server.stats_snapshot()["process_cpu_s"] - emulator_cpu
    return Result(scenario, method, n, concurrency, wall, used, emulator_used, failed=failed)


def on_loop(loop: str, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a fresh event loop of the given kind (rows never share a loop)."""
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


async def warmed(scenario: str, method: str, run: Run, server: EmulatorServer, n: int, concurrency: int) -> Result:
    await run(server.openai_base_url, min(n, 200), concurrency)  # warm up imports and caches
    return await measured(scenario, method, run, server, n, concurrency)


def loops() -> list[str]:
    """Our client runs on asyncio's loop (what most applications use) and, when installed, on uvloop."""
    return ["asyncio", "uvloop"] if importlib.util.find_spec("uvloop") else ["asyncio"]


def efficiency(n: int, latency: float, concurrency: int) -> list[Result]:
    name = f"efficiency {latency * 1000:g}ms"
    ideal = n * latency / concurrency
    methods: list[tuple[str, Run, str]] = [(f"inferopt AsyncClient.map{_on(loop)}", ours, loop) for loop in loops()]
    methods.append(("naive gather+semaphore (openai SDK)", naive_sdk, "asyncio"))
    out = []
    with emulator(latency) as server:
        for method, run, loop in methods:
            result = on_loop(loop, warmed(name, method, run, server, n, concurrency))
            result.ideal_s = ideal
            out.append(result)
        sample = max(3, min(20, int(5 / latency)))
        per_call = on_loop("asyncio", sequential_sample(server.openai_base_url, sample))
        out.append(Result(name, "sequential (sampled, scaled to N)", n, 1, per_call * n, None, None, ideal))
    return out


def _on(loop: str) -> str:
    return "" if loop == "asyncio" else f", {loop}"


def overhead(n: int, concurrency: int) -> list[Result]:
    methods: list[tuple[str, Run, str]] = [(f"inferopt AsyncClient.map{_on(loop)}", ours, loop) for loop in loops()]
    methods += [
        ("inferopt, httpx transport", ours_httpx, "asyncio"),
        ("raw openai.AsyncOpenAI + semaphore", naive_sdk, "asyncio"),
    ]
    with emulator(0.0) as server:
        return [
            on_loop(loop, warmed("overhead (0 ms upstream)", method, run, server, n, concurrency))
            for method, run, loop in methods
        ]


def main(quick: bool) -> None:
    os.environ.setdefault("EMU_KEY", "sk-bench")
    print(f"load average before the run: {os.getloadavg()[0]:.2f}; rows run on asyncio's loop unless they say uvloop")
    results: list[Result] = []
    if quick:
        results += efficiency(200, 0.2, 50)
        results += overhead(1000, 50)
    else:
        results += efficiency(1000, 1.0, 50)
        results += efficiency(10_000, 0.05, 200)
        results += overhead(5000, 100)
    print(
        f"{'scenario':<24} {'method':<35} {'N':>6} {'conc':>5} {'wall s':>9} {'req/s':>8} {'efficiency':>10} "
        f"{'client µs/req':>11} {'emu µs/req':>10} {'failed':>6}"
    )
    for result in results:
        print(result.row())
    ours_rps = {r.scenario: r.rps for r in results if r.method == "inferopt AsyncClient.map"}
    sdk_rps = {r.scenario: r.rps for r in results if "openai" in r.method}
    for scenario, rps in ours_rps.items():
        if scenario in sdk_rps:
            print(
                f"{scenario}: inferopt / openai SDK requests/s ratio (both on asyncio) = {rps / sdk_rps[scenario]:.2f}"
            )
    print(f"load average after the run: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small and fast, for a smoke check")
    main(parser.parse_args().quick)
