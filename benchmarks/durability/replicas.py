"""Back-pressure, not errors: 1,000 concurrent requests over 4 gateway replicas sharing one budget.

    python benchmarks/durability/replicas.py                   # 1,000 requests, 4 replicas (about 30 s)
    python benchmarks/durability/replicas.py -n 3000 --rounds 3

Starts a ``redis-server`` of its own (``--redis URL`` uses yours instead), one emulator (its own
process, 200 ms per answer, so every request is in flight at once) and N ``inferopt serve``
replicas (subprocesses) with ``--keys`` on that Redis. One virtual key gets a budget worth
``--fit`` worst-case requests; all requests are fired at once, round robin over the replicas.

Columns: ``errors`` (any answer but 200 or the budget's 429 ``insufficient_quota``), ``refused``
(the budget's 429s), ``overspend`` (dollars settled beyond the budget, once nothing is in flight),
``upstream`` (requests the emulator received: must equal ``ok``) and latency p50/p99 of all answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.gateway.keys_redis import RedisKeyStore
from inferopt.gateway.usage import estimate_of
from inferopt.gateway.validation import ParsedChat, RequestLimits, parse_openai_chat
from inferopt.pricing import default_catalog

HOST = "127.0.0.1"
MODEL = "gpt-4o-mini"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Name a river."}], "max_tokens": 50}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text() if log else ''}")
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start in 60 s")


def start_redis(folder: Path) -> tuple[str, subprocess.Popen[bytes] | None]:
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not on PATH: install it, or pass --redis redis://host:port/db")
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL)
    wait_port(port, process, "redis-server")
    return f"redis://{HOST}:{port}/0", process


def start_replicas(count: int, config: Path, keys_url: str, folder: Path) -> list[tuple[int, subprocess.Popen[bytes]]]:
    env = {**os.environ, "BENCH_KEY": "sk-bench-upstream"}
    replicas = []
    for i in range(count):
        port, log = free_port(), folder / f"replica-{i}.log"
        command = [sys.executable, "-m", "inferopt", "serve", "--config", str(config), "--port", str(port)]
        with open(log, "wb") as out:
            process = subprocess.Popen([*command, "--keys", keys_url], env=env, stdout=out, stderr=subprocess.STDOUT)
        replicas.append((port, process))
    for i, (port, process) in enumerate(replicas):
        wait_port(port, process, f"replica {i}", folder / f"replica-{i}.log")
    return replicas


def worst_case_usd() -> float:
    parsed = parse_openai_chat(BODY, RequestLimits())
    assert isinstance(parsed, ParsedChat)
    return estimate_of(parsed.request, MODEL, default_catalog(), 1024).usd


def encoded(secret: str) -> bytes:
    """The request as bytes: an SDK or httpx would spend more CPU per request than the gateways under test."""
    data = json.dumps(BODY).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {secret}\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + data


async def one(port: int, request: bytes) -> tuple[int, str, float]:
    """(status, error code, seconds) of one request on its own connection."""
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(request)
        raw = await reader.read(-1)  # the gateway closes after answering (Connection: close)
        writer.close()
    except OSError as exc:
        return 0, type(exc).__name__, time.perf_counter() - started
    elapsed = time.perf_counter() - started
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    if status == 200:
        return status, "", elapsed
    try:
        return status, str(json.loads(body)["error"]["code"]), elapsed
    except (ValueError, KeyError, TypeError):
        return status, "not JSON: " + body[:40].decode(errors="replace"), elapsed


async def fire(ports: list[int], secret: str, n: int) -> list[tuple[int, str, float]]:
    request = encoded(secret)
    return await asyncio.gather(*(one(ports[i % len(ports)], request) for i in range(n)))


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else float("nan")


async def one_round(
    ports: list[int], keys_url: str, emulator: EmulatorServer, args: argparse.Namespace
) -> dict[str, float]:
    store = RedisKeyStore(keys_url)
    budget = worst_case_usd() * (args.fit + 0.5)
    key, secret = await store.create("bench-replicas", budget_usd=budget)
    before = emulator.stats_snapshot()["requests_total"]
    results = await fire(ports, secret, args.requests)
    spent, reserved = await store.spend(key.id)
    await store.aclose()
    ok = [latency for status, _, latency in results if status == 200]
    refused = [latency for status, code, latency in results if status == 429 and code == "insufficient_quota"]
    errors = Counter(f"{status} {code}" for status, code, _ in results if status not in (200, 429))
    if errors:
        print("      errors:", ", ".join(f"{what}: {n}" for what, n in errors.most_common()))
    latencies = [latency for _, _, latency in results]
    return {
        "ok": len(ok),
        "refused": len(refused),
        "errors": len(results) - len(ok) - len(refused),
        "overspend": max(0.0, spent - budget),
        "in_flight_left": reserved,
        "upstream": emulator.stats_snapshot()["requests_total"] - before,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "ok_p50_ms": percentile(ok, 0.5) * 1000,
        "refused_p50_ms": percentile(refused, 0.5) * 1000,
        "budget": budget,
        "spent": spent,
    }


async def warm_up(ports: list[int], keys_url: str) -> None:
    """A few requests per replica first (token tables, connection pools), on a key of their own."""
    store = RedisKeyStore(keys_url)
    _, secret = await store.create("bench-warm-up")
    await store.aclose()
    await fire(ports, secret, 10 * len(ports))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--requests", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--fit", type=int, default=400, help="worst-case requests the budget holds")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--redis", default=None, help="use this Redis instead of starting one")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    redis_process = None
    keys_url = args.redis
    if keys_url is None:
        keys_url, redis_process = start_redis(folder)
    emulator = EmulatorServer(EmulatorConfig(seed=5, overrides=ProfileOverrides(fixed_latency_s=0.2)), subprocess=True)
    replicas: list[tuple[int, subprocess.Popen[bytes]]] = []
    try:
        emulator.start()
        config = folder / "gateway.yaml"
        provider = {"kind": "openai", "base_url": emulator.openai_base_url, "api_key_env": "BENCH_KEY"}
        config.write_text(json.dumps({"providers": {"emu": provider}}))
        replicas = start_replicas(args.replicas, config, keys_url, folder)
        ports = [port for port, _ in replicas]
        print(f"{args.requests} concurrent requests over {args.replicas} replicas, one budget ({args.fit} fit)")
        columns = ("round", 5), ("ok", 5), ("refused", 8), ("errors", 7), ("overspend $", 12), ("upstream", 9)
        print(" ".join(f"{name:>{width}}" for name, width in (*columns, ("p50 ms", 8), ("p99 ms", 8))))
        asyncio.run(warm_up(ports, keys_url))
        for i in range(args.rounds):
            r = asyncio.run(one_round(ports, keys_url, emulator, args))
            print(
                f"{i + 1:>5} {r['ok']:>5.0f} {r['refused']:>8.0f} {r['errors']:>7.0f} {r['overspend']:>12.6f} "
                f"{r['upstream']:>9.0f} {r['p50_ms']:>8.0f} {r['p99_ms']:>8.0f}"
            )
            print(
                f"      budget ${r['budget']:.6f}, spent ${r['spent']:.6f}, still reserved ${r['in_flight_left']:.6f}; "
                f"p50 of answers {r['ok_p50_ms']:.0f} ms, of refusals {r['refused_p50_ms']:.0f} ms"
            )
    finally:
        for _, process in replicas:
            process.terminate()
        for _, process in replicas:
            process.wait(timeout=15)
        emulator.stop()
        if redis_process is not None:
            redis_process.kill()
            redis_process.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
