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
Every row of a scenario runs against the same emulator (same settings) at the same concurrency, each
in a fresh process of its own (its own heap, imports and connections; warmed up with 200 requests
first) on asyncio's event loop, and for our client also on uvloop's when installed (the row says so;
the library itself never installs a loop: the application chooses).
Prints a table; ratios are what to compare (this machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import multiprocessing
import os
import resource
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import httpx

from inferopt.client import AsyncClient
from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.providers.base import Provider
from inferopt.providers.openai import OpenAIChatModel
from inferopt.types import ChatResponse

MODEL = "gpt-4o-mini"


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


def prompts(n: int) -> list[str]:
    return [f"Classify review {i}: fine" for i in range(n)]


def failures(results: list[ChatResponse | Exception]) -> int:
    """Answers that are not a successful emulated completion with text."""
    return sum(1 for r in results if isinstance(r, Exception) or not (r.content and r.emulated))


async def ours(base_url: str, n: int, concurrency: int) -> int:
    config = parse_config({"providers": {"emu": {"kind": "openai", "base_url": base_url, "api_key_env": "EMU_KEY"}}})
    async with AsyncClient(config) as client:
        return failures(await client.map(prompts(n), model=MODEL, max_tokens=5, concurrency=concurrency))


async def ours_httpx(base_url: str, n: int, concurrency: int) -> int:
    """The same client with the httpx transport instead of our HTTP/1.1 client (why that is the default)."""
    provider = Provider("emu", base_url, api_key="sk-bench", transport=httpx.AsyncHTTPTransport())
    async with AsyncClient(parse_config({}), models={MODEL: OpenAIChatModel(provider)}) as client:
        return failures(await client.map(prompts(n), model=MODEL, max_tokens=5, concurrency=concurrency))


async def naive_sdk(base_url: str, n: int, concurrency: int) -> int:
    import openai  # here, not at the top: the other rows' processes do not carry the SDK

    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(prompt: str) -> bool:
        async with gate:
            completion = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": prompt}], max_tokens=5
            )
        return bool(completion.choices[0].message.content and completion.system_fingerprint == "inferopt-emulator")

    outcomes = await asyncio.gather(*(one(p) for p in prompts(n)), return_exceptions=True)
    await client.close()
    return sum(1 for o in outcomes if o is not True)


async def sequential_sample(base_url: str, sample: int) -> float:
    """Mean wall time of one call when calls run one after another."""
    config = parse_config({"providers": {"emu": {"kind": "openai", "base_url": base_url, "api_key_env": "EMU_KEY"}}})
    async with AsyncClient(config) as client:
        start = time.perf_counter()
        for prompt in prompts(sample):
            await client.complete(prompt, model=MODEL, max_tokens=5)
    return (time.perf_counter() - start) / sample


def emulator(latency: float) -> EmulatorServer:
    return EmulatorServer(EmulatorConfig(seed=1, overrides=ProfileOverrides(fixed_latency_s=latency)), subprocess=True)


def emulator_cpu_s(server_url: str) -> float:
    """CPU seconds the emulator process has used so far (``GET /emulator/stats``)."""
    with urllib.request.urlopen(server_url + "/emulator/stats", timeout=10) as response:
        return float(json.load(response)["process_cpu_s"])


RUNS = {"ours": ours, "ours_httpx": ours_httpx, "naive_sdk": naive_sdk}


async def measured(scenario: str, method: str, run: str, server_url: str, n: int, concurrency: int) -> Result:
    """One row: wall time, CPU of this process and of the emulator process, failures (after a warm-up)."""
    call = RUNS[run]
    await call(server_url + "/v1", min(n, 200), concurrency)  # warm up imports and caches
    emulator_before = emulator_cpu_s(server_url)
    cpu, start = cpu_now(), time.perf_counter()
    failed = await call(server_url + "/v1", n, concurrency)
    wall, used = time.perf_counter() - start, cpu_now() - cpu
    emulator_used = emulator_cpu_s(server_url) - emulator_before
    return Result(scenario, method, n, concurrency, wall, used, emulator_used, failed=failed)


def row_in_process(
    scenario: str, method: str, run: str, loop: str, server_url: str, n: int, concurrency: int
) -> Result:
    """Entry point of a row's own process: a fresh interpreter and event loop for every row."""
    os.environ.setdefault("EMU_KEY", "sk-bench")
    coro = measured(scenario, method, run, server_url, n, concurrency)
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def row(scenario: str, method: str, run: str, loop: str, server: EmulatorServer, n: int, concurrency: int) -> Result:
    """Run one row in a process of its own, so rows never share a heap, imports or connections."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(row_in_process, scenario, method, run, loop, server.url, n, concurrency).result()


def loops() -> list[str]:
    """Our client runs on asyncio's loop (what most applications use) and, when installed, on uvloop."""
    return ["asyncio", "uvloop"] if importlib.util.find_spec("uvloop") else ["asyncio"]


def efficiency(n: int, latency: float, concurrency: int) -> list[Result]:
    name = f"efficiency {latency * 1000:g}ms"
    ideal = n * latency / concurrency
    methods = [(f"inferopt AsyncClient.map{_on(loop)}", "ours", loop) for loop in loops()]
    methods.append(("naive gather+semaphore (openai SDK)", "naive_sdk", "asyncio"))
    out = []
    with emulator(latency) as server:
        for method, run, loop in methods:
            result = row(name, method, run, loop, server, n, concurrency)
            result.ideal_s = ideal
            out.append(result)
        sample = max(3, min(20, int(5 / latency)))
        per_call = asyncio.run(sequential_sample(server.openai_base_url, sample))
        out.append(Result(name, "sequential (sampled, scaled to N)", n, 1, per_call * n, None, None, ideal))
    return out


def _on(loop: str) -> str:
    return "" if loop == "asyncio" else f", {loop}"


def overhead(n: int, concurrency: int) -> list[Result]:
    methods = [(f"inferopt AsyncClient.map{_on(loop)}", "ours", loop) for loop in loops()]
    methods += [
        ("inferopt, httpx transport", "ours_httpx", "asyncio"),
        ("raw openai.AsyncOpenAI + semaphore", "naive_sdk", "asyncio"),
    ]
    with emulator(0.0) as server:
        return [
            row("overhead (0 ms upstream)", method, run, loop, server, n, concurrency) for method, run, loop in methods
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
