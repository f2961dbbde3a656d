"""Memory soak: does the gateway's RSS stay flat under steady load?

    python benchmarks/durability/soak.py                 # 10 minutes at 150 req/s (the issue's run)
    python benchmarks/durability/soak.py --minutes 60    # the hour-long run
    python benchmarks/durability/soak.py --minutes 2     # a quick look

An emulator (its own process, zero latency) behind one ``inferopt serve`` worker that records every
answer (``metered`` into SQLite, as a deployment does); a load generator sends chat, streamed chat
and Responses requests at a fixed rate, cycling over 500 distinct prompts, every one forwarded
upstream (no answer cache: its entries would be growth by design). The gateway's RSS is sampled
every 10 s; growth is the mean of the last three samples against the mean of the three after the
warm-up (the first 10% of the run), so pools and tables warming up is not counted as a leak. Target: growth under 5%.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))
from bench_gateway import HOST, free_port, wait_healthy
from loadgen import Connection, encode_post, percentile

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

IDLE_EXPIRY_S = 4.0
PROMPTS = 500


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def requests() -> list[bytes]:
    out = []
    for i in range(PROMPTS):
        text = f"Summarise ticket {i}: the customer reports a late delivery"
        chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "max_tokens": 16}
        if i % 3 == 0:
            out.append(encode_post("/v1/chat/completions", chat))
        elif i % 3 == 1:
            out.append(encode_post("/v1/chat/completions", {**chat, "stream": True}))
        else:
            body = {"model": "gpt-4o-mini", "input": text, "max_output_tokens": 16, "store": False}
            out.append(encode_post("/v1/responses", body))
    return out


async def load(port: int, rate: float, seconds: float, pid: int, samples: list[tuple[float, float]]) -> dict:
    """Open loop at ``rate``: request ``k`` is body ``k mod 500``, on a pool of keep-alive connections."""
    bodies = requests()
    opened = time.perf_counter()
    idle: list[tuple[Connection, float]] = [(await Connection.open(HOST, port), opened) for _ in range(16)]
    latencies: list[float] = []
    errors: Counter[str] = Counter()  # what each failure was: a status, or the connection error's name
    tasks: set[asyncio.Task[None]] = set()

    async def take() -> Connection:
        """A pooled connection used within IDLE_EXPIRY_S, as an SDK's pool keeps them (httpx: 5 s), or a new one."""
        while idle:
            conn, used = idle.pop()
            if time.perf_counter() - used <= IDLE_EXPIRY_S:
                return conn
            conn.close()
        return await Connection.open(HOST, port)

    async def one(request: bytes, scheduled: float) -> None:
        try:
            conn = await take()
            status, _ = await conn.send(request)
        except (ConnectionError, OSError) as exc:
            errors[type(exc).__name__] += 1
            return
        latencies.append(time.perf_counter() - scheduled)
        if status != 200:
            errors[f"HTTP {status}"] += 1
        idle.append((conn, time.perf_counter()))

    started = time.perf_counter()
    next_sample = 10.0
    for k in range(int(rate * seconds)):
        scheduled = started + k / rate
        if (delay := scheduled - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(bodies[k % len(bodies)], scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if scheduled - started >= next_sample:
            samples.append((next_sample, rss_mb(pid)))
            next_sample += 10.0
    await asyncio.gather(*tasks)
    samples.append((time.perf_counter() - started, rss_mb(pid)))
    for conn, _ in idle:
        conn.close()
    sent = int(rate * seconds)
    return {
        "sent": sent,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=150.0, help="requests per second")
    args = parser.parse_args()
    emulator = EmulatorServer(EmulatorConfig(seed=1, overrides=ProfileOverrides(fixed_latency_s=0.0)), subprocess=True)
    with emulator, tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "soak.yaml"
        provider = {"kind": "openai", "base_url": emulator.openai_base_url, "api_key_env": "SOAK_KEY"}
        stack = [{"metered": {"sink": f"sqlite://{Path(folder) / 'records.db'}"}}]
        config.write_text(json.dumps({"providers": {"emu": provider}, "stack": stack}))
        port = free_port()
        command = [sys.executable, "-m", "inferopt", "serve", "--config", str(config), "--port", str(port)]
        process = subprocess.Popen(command, env={**os.environ, "SOAK_KEY": "sk-soak"}, stderr=subprocess.PIPE)
        samples: list[tuple[float, float]] = []
        try:
            wait_healthy(process, port)
            samples.append((0.0, rss_mb(process.pid)))
            figures = asyncio.run(load(port, args.rate, args.minutes * 60, process.pid, samples))
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    warm = [mb for t, mb in samples if t >= args.minutes * 6][:3] or [samples[-1][1]]
    last = [mb for _, mb in samples[-3:]]
    before, after = sum(warm) / len(warm), sum(last) / len(last)
    growth = (after - before) / before * 100
    print(f"gateway soak: {args.minutes:g} min at {args.rate:g} req/s (chat, streamed chat, Responses; 500 prompts)")
    print(
        f"{'requests':>9} {'errors':>7} {'p50 ms':>7} {'p99 ms':>7} {'RSS start':>10} "
        f"{'after warm-up':>14} {'end':>7} {'growth':>7}"
    )
    print(
        f"{figures['sent']:>9} {figures['errors']:>7} {figures['p50_ms']:>7.1f} {figures['p99_ms']:>7.1f} "
        f"{samples[0][1]:>8.1f}MB {before:>12.1f}MB {after:>5.1f}MB {growth:>6.1f}%"
    )
    if figures["error_kinds"]:
        print("failures: " + ", ".join(f"{kind}: {n}" for kind, n in sorted(figures["error_kinds"].items())))
    print("RSS samples (s, MB): " + ", ".join(f"{t:.0f}:{mb:.1f}" for t, mb in samples))
    print(f"target growth < 5%: {'met' if growth < 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
