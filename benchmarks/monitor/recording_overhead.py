"""What recording every request costs the request path: ``Metered`` vs no recording, one run.

    python benchmarks/monitor/recording_overhead.py            # the figures in docs/tradeoffs.md
    python benchmarks/monitor/recording_overhead.py --quick    # a smoke check

Two scenarios, each side by side in the same run:

- in-process: N sequential ``complete`` calls to an in-process model that answers at once, so any
  added time is the wrapper's own. Bare model vs ``Metered`` with each sink (SQLite, JSONL,
  Prometheus) vs a naive recorder that INSERTs and commits to SQLite inside the request (what
  "just log it to a table" usually looks like). Reported as microseconds added per request.
- over HTTP: the client against the emulator (own process, fixed latency) at concurrency C, with
  and without a ``metered`` SQLite stack: requests per second, and the ratio.

The machine is shared and noisy: compare ratios, not absolute numbers. Records are flushed
before the timer stops for the batched sinks, so the writes are paid for inside the measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from inferopt.client import AsyncClient
from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.monitor import Metered, RequestRecord
from inferopt.monitor.sqlite import MIGRATIONS
from inferopt.types import ChatRequest, ChatResponse, Model, Usage

MODEL = "gpt-4o-mini"


class Instant:
    """A model that answers at once: the baseline cost of a call through the stack."""

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return ChatResponse(id="x", model=MODEL, content="ok", usage=Usage(20, 5), provider="bench")

    def stream(self, request: ChatRequest):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


class NaiveSQLite:
    """Records by INSERT + COMMIT inside the request: the usual first attempt."""

    def __init__(self, inner: Model, path: Path) -> None:
        self.inner = inner
        self.db = sqlite3.connect(path)
        for migration in MIGRATIONS:
            self.db.executescript(migration)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        started = time.perf_counter()
        response = await self.inner.complete(request)
        self.db.execute(
            "INSERT INTO requests (request_id, timestamp, model_requested, latency_s) VALUES (?, ?, ?, ?)",
            ("x", time.time(), request.model, time.perf_counter() - started),
        )
        self.db.commit()
        return response

    async def aclose(self) -> None:
        self.db.close()


async def per_request_us(make: Callable[[], object], n: int) -> tuple[float, float]:
    """(microseconds per request on the request path, microseconds per request including the writes)."""
    model = make()
    request = ChatRequest.of("hello", model=MODEL)
    started = time.perf_counter()
    for _ in range(n):
        await model.complete(request)  # type: ignore[attr-defined]
    answered = time.perf_counter()
    flush = getattr(model, "flush", None)
    if flush is not None:
        flush()
    written = time.perf_counter()
    await model.aclose()  # type: ignore[attr-defined]
    return (answered - started) / n * 1e6, (written - started) / n * 1e6


async def in_process(n: int, folder: Path) -> None:
    rows = [
        ("no recording", lambda: Instant()),
        ("Metered -> SQLite (batched)", lambda: Metered(Instant(), [f"sqlite://{folder / 'a.db'}"])),
        ("Metered -> JSONL (batched)", lambda: Metered(Instant(), [f"jsonl://{folder / 'a.jsonl'}"])),
        ("Metered -> Prometheus", lambda: Metered(Instant(), ["prometheus:"])),
        ("naive INSERT+COMMIT per request", lambda: NaiveSQLite(Instant(), folder / "naive.db")),
    ]
    # The naive recorder costs milliseconds per request: a sample of 1,000 gives its per-request figure.
    results = [(name, *(await per_request_us(make, n if "naive" not in name else min(n, 1000)))) for name, make in rows]
    base = results[0][1]
    print(f"\nIn-process, {n} sequential requests to a model that answers at once")
    print("(request path = until the last answer returned; with writes = until every record was written)")
    print(f"{'recorder':34} {'request path us':>16} {'added us':>9} {'with writes us':>15}")
    for name, path_us, total_us in results:
        print(f"{name:34} {path_us:16.1f} {path_us - base:9.1f} {total_us:15.1f}")


async def requests_per_s(config: object, n: int, concurrency: int) -> float:
    async with AsyncClient(config) as client:  # type: ignore[arg-type]
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                await client.complete(f"q{i}", model=MODEL, max_tokens=5)

        await asyncio.gather(*(one(i) for i in range(50)))  # warm up connections
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - started)


async def over_http(n: int, concurrency: int, latency: float, folder: Path) -> None:
    emulator = EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=latency, jitter=0.0))
    with EmulatorServer(emulator, subprocess=True) as server:
        provider = {"emu": {"kind": "openai", "base_url": server.openai_base_url, "api_key_env": "PATH"}}
        stacks = {
            "no recording": [],
            "metered -> SQLite": [{"metered": {"sink": f"sqlite://{folder / 'http.db'}"}}],
        }
        best: dict[str, float] = {}
        for _ in range(2):  # interleaved, best of two: this machine's load drifts during a run
            for name, stack in stacks.items():
                config = parse_config({"providers": provider, "stack": stack})
                best[name] = max(best.get(name, 0.0), await requests_per_s(config, n, concurrency))
    print(f"\nOver HTTP to the emulator: {n} requests, concurrency {concurrency}, upstream latency {latency}s")
    print(f"{'stack':34} {'req/s':>9} {'ratio':>7}")
    base = best["no recording"]
    for name, rps in best.items():
        print(f"{name:34} {rps:9.1f} {rps / base:7.3f}")
    # AsyncClient.aclose does not close stack layers yet, so the last partial batch is written on
    # the writer's next tick (or at exit): wait one flush interval before counting.
    await asyncio.sleep(1.2)
    written = len(sqlite3.connect(folder / "http.db").execute("SELECT request_id FROM requests").fetchall())
    print(f"records written: {written} (expected {2 * (n + 50)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    args = parser.parse_args()
    n, http_n = (2000, 300) if args.quick else (20000, 2000)
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(in_process(n, Path(tmp)))
        asyncio.run(over_http(http_n, 32, 0.05, Path(tmp)))
    assert RequestRecord  # the schema every recorder above writes


if __name__ == "__main__":
    main()
