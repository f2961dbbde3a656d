"""Gateway overhead: the same load straight at a zero-delay emulator, then through the gateway.

One command (from the repository root)::

    python benchmarks/gateway/bench_gateway.py            # about two minutes
    python benchmarks/gateway/bench_gateway.py --profile  # also a pyinstrument profile of `inferopt serve`

The load generator, the emulator and the gateway (one worker) run in separate processes. Columns:

- ``direct``: the load generator straight at the emulator;
- ``gateway``: through ``inferopt serve`` (the shipped path: provider adapters on ``providers/http1.py``);
- ``gw raw-http``: the same gateway with its adapters on ``raw_transport.RawTransport`` (an experiment,
  see experiment_gateway.py);
- ``gw no-upstream``: the gateway answering from an in-process model: its own ceiling.

Rows: closed-loop max requests/s, latency p50/p99 at fixed rates (latency counts from each request's
scheduled start), stream time-to-first-byte, the same for the Responses API (``POST /v1/responses``,
which the gateway translates to chat upstream) and for embeddings (``POST /v1/embeddings``, one
input; ``nan`` where a variant has no embeddings upstream), peak RSS of the gateway process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from loadgen import closed_loop, encode_post, fixed_rate, percentile, stream_ttfb

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

HOST = "127.0.0.1"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 16}
EMBEDDINGS_BODY = {"model": "text-embedding-3-small", "input": "The quick brown fox jumps over the lazy dog."}
RESPONSES_BODY = {"model": "gpt-4o-mini", "input": "Say hi", "max_output_tokens": 16, "store": False}
HERE = Path(__file__).resolve().parent
Figures = dict[str, float]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_healthy(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{HOST}:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the gateway did not start: {process.stderr.read().decode() if process.stderr else ''}")


def gateway_command(variant: str, config: Path, port: int, profile_to: Path | None) -> list[str]:
    if variant == "gateway":
        command = [sys.executable, "-m", "inferopt", "serve", "--config", str(config), "--port", str(port)]
        if profile_to is not None:
            command = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(profile_to), *command[1:]]
        return command
    mode = "raw" if variant == "raw" else "echo"
    return [sys.executable, str(HERE / "experiment_gateway.py"), mode, str(port), str(config)]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(port: int, duration_s: float, rates: list[int]) -> Figures:
    request = encode_post("/v1/chat/completions", BODY)
    stream = encode_post("/v1/chat/completions", {**BODY, "stream": True})
    await closed_loop(HOST, port, request, 8, 1.0)  # warm up (token tables, connection pools)
    result: Figures = {}
    run = await closed_loop(HOST, port, request, 32, duration_s)
    result["closed_rps"], result["closed_errors"] = run.rate, run.errors
    for rate in rates:
        run = await fixed_rate(HOST, port, request, rate, duration_s)
        result[f"p50_{rate}"] = percentile(run.latencies_s, 0.5) * 1000
        result[f"p99_{rate}"] = percentile(run.latencies_s, 0.99) * 1000
        result[f"achieved_{rate}"], result[f"errors_{rate}"] = run.rate, run.errors
    ttfb = await stream_ttfb(HOST, port, stream, 200)
    result["ttfb_p50"], result["ttfb_p99"] = percentile(ttfb, 0.5) * 1000, percentile(ttfb, 0.99) * 1000
    # The Responses API: through the gateway it is translated to chat upstream and back.
    responses = encode_post("/v1/responses", RESPONSES_BODY)
    run = await closed_loop(HOST, port, responses, 32, duration_s)
    result["resp_closed_rps"], result["resp_closed_errors"] = run.rate, run.errors
    rate = rates[len(rates) // 2]
    run = await fixed_rate(HOST, port, responses, rate, duration_s)
    result["resp_p50"], result["resp_p99"] = (
        percentile(run.latencies_s, 0.5) * 1000,
        percentile(run.latencies_s, 0.99) * 1000,
    )
    ttfb = await stream_ttfb(HOST, port, encode_post("/v1/responses", {**RESPONSES_BODY, "stream": True}), 200)
    result["resp_ttfb_p50"], result["resp_ttfb_p99"] = percentile(ttfb, 0.5) * 1000, percentile(ttfb, 0.99) * 1000
    # Embeddings: one input per request (the per-item cache is not in this stack: every call goes upstream).
    embed = encode_post("/v1/embeddings", EMBEDDINGS_BODY)
    run = await closed_loop(HOST, port, embed, 32, duration_s)
    result["emb_closed_rps"], result["emb_closed_errors"] = run.rate, run.errors
    run = await fixed_rate(HOST, port, embed, rates[0], duration_s)  # 1,536 floats per answer: the lowest rate
    result["emb_p50"], result["emb_p99"] = (
        percentile(run.latencies_s, 0.5) * 1000,
        percentile(run.latencies_s, 0.99) * 1000,
    )
    if result["emb_closed_errors"] or run.errors:  # e.g. the in-process model has no embeddings: no figure
        result.update(emb_closed_rps=float("nan"), emb_p50=float("nan"), emb_p99=float("nan"))
    return result


def through_gateway(variant: str, emulator_url: str, args: argparse.Namespace, rates: list[int]) -> Figures:
    config = Path(tempfile.mkdtemp()) / "bench-gateway.yaml"
    provider = {"kind": "openai", "base_url": emulator_url, "api_key_env": "BENCH_KEY"}
    config.write_text(json.dumps({"providers": {"emu": provider}}))
    port = free_port()
    profile_to = Path("artifacts/gateway-profile.txt") if args.profile else None
    env = {**os.environ, "BENCH_KEY": "sk-bench-upstream", "PYTHONPATH": str(HERE)}
    command = gateway_command(variant, config, port, profile_to)
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    try:
        wait_healthy(process, port)
        figures = asyncio.run(measure(port, args.duration, rates))
        figures["rss_mb"] = peak_rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    return figures


def report(columns: dict[str, Figures], rates: list[int], duration: float) -> None:
    names = list(columns)
    direct = columns["direct"]
    print(f"\nGateway overhead: one worker, zero-delay emulator, {duration:g} s per row, {os.cpu_count()} cores")
    print(f"{'measure':<34}" + "".join(f"{n:>19}" for n in names))

    def row(label: str, key: str, fmt: str, added: bool = False) -> None:
        cells = []
        for name in names:
            value = columns[name][key]
            text = format(value, fmt)
            if added and name != "direct":
                text += f" ({value - direct[key]:+.1f})"
            cells.append(f"{text:>19}")
        print(f"{label:<34}" + "".join(cells))

    row("closed-loop max req/s (32 conns)", "closed_rps", ".0f")
    for rate in rates:
        row(f"p50 ms at {rate} req/s (added)", f"p50_{rate}", ".1f", added=True)
        row(f"p99 ms at {rate} req/s (added)", f"p99_{rate}", ".1f", added=True)
        row("  achieved req/s", f"achieved_{rate}", ".0f")
    row("stream TTFB p50 ms (added)", "ttfb_p50", ".2f", added=True)
    row("stream TTFB p99 ms (added)", "ttfb_p99", ".2f", added=True)
    row("responses closed-loop req/s", "resp_closed_rps", ".0f")
    row(f"responses p50 ms at {rates[len(rates) // 2]} req/s (added)", "resp_p50", ".1f", added=True)
    row(f"responses p99 ms at {rates[len(rates) // 2]} req/s (added)", "resp_p99", ".1f", added=True)
    row("responses stream TTFB p50 (added)", "resp_ttfb_p50", ".2f", added=True)
    row("responses stream TTFB p99 (added)", "resp_ttfb_p99", ".2f", added=True)
    row("embeddings closed-loop req/s", "emb_closed_rps", ".0f")
    row(f"embeddings p50 ms at {rates[0]} req/s (added)", "emb_p50", ".1f", added=True)
    row(f"embeddings p99 ms at {rates[0]} req/s (added)", "emb_p99", ".1f", added=True)
    print(f"{'gateway peak RSS (MB)':<34}{'':>19}" + "".join(f"{columns[n]['rss_mb']:>19.1f}" for n in names[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--rates", default="100,300,500")
    parser.add_argument("--profile", action="store_true", help="profile `inferopt serve` with pyinstrument")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    if args.profile:
        Path("artifacts").mkdir(exist_ok=True)
    columns: dict[str, Figures] = {}
    with EmulatorServer(EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0)), subprocess=True) as emulator:
        columns["direct"] = asyncio.run(measure(emulator.port, args.duration, rates))
        columns["gateway"] = through_gateway("gateway", emulator.openai_base_url, args, rates)
        columns["gw raw-http"] = through_gateway("raw", emulator.openai_base_url, args, rates)
    columns["gw no-upstream"] = through_gateway("echo", "http://unused", args, rates)
    report(columns, rates, args.duration)
    if args.profile:
        print("\nprofile of `inferopt serve`: artifacts/gateway-profile.txt")


if __name__ == "__main__":
    main()
