"""The same batch job on the local engine and on Ray, one RPM budget shared through Redis, side by side.

    python benchmarks/parallel/ray_vs_local.py                 # 3,000 rows, RPM 6,000 (about 2 minutes)
    python benchmarks/parallel/ray_vs_local.py -n 20000 --rpm 12000 --workers 4

An emulator in its own process enforces the RPM itself (a provider's limit: what goes past it is a
429), with a fixed latency per answer. Each run is ``inferopt batch run`` as a user runs it:
``--engine local -c C --rpm R`` and ``--engine ray --workers W --rpm R --limits-redis URL`` (every Ray
task takes its requests from the one Redis bucket). Columns: wall time, rows per second, the share
of the RPM it sustained, the provider's 429s (0 means the shared budget held), and whether every row
was answered exactly once. A Redis of its own is started (``--redis URL`` uses yours).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "durability"))
from replicas import start_redis  # noqa: E402

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides  # noqa: E402


def write_rows(path: Path, n: int) -> None:
    path.write_text("".join(json.dumps({"id": f"r{i}", "text": f"review number {i}"}) + "\n" for i in range(n)))


def run_job(folder: Path, server: EmulatorServer, engine_args: list[str], rpm: int) -> dict[str, float]:
    config = folder / "inferopt.yaml"
    config.write_text(
        f"providers:\n  emu: {{kind: openai, base_url: '{server.openai_base_url}', api_key_env: EMU_KEY}}\n"
        "default_model: emu/gpt-4o-mini\n"
    )
    out = folder / "out.jsonl"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "inferopt", "batch", "run", "in.jsonl", "-o", str(out), "--config", str(config)]
    command += ["--template", "Classify: {text}", "--max-tokens", "5", "--rpm", str(rpm), *engine_args]
    before = server.stats_snapshot()
    started = time.monotonic()
    done = subprocess.run(command, cwd=folder, env={**os.environ, "EMU_KEY": "sk-emu"}, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(engine_args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    after = server.stats_snapshot()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    ids = Counter(r["id"] for r in rows)
    return {
        "wall_s": wall,
        "rows": len(rows),
        "ok": sum(1 for r in rows if r.get("status") == "ok"),
        "once": float(all(c == 1 for c in ids.values())),
        "upstream": after["requests_total"] - before["requests_total"],
        "limited": after["rate_limited"] - before["rate_limited"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=3000, help="rows in the job")
    parser.add_argument("--rpm", type=int, default=6000)
    parser.add_argument("--latency", type=float, default=0.1, help="the emulator's seconds per answer")
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="Ray tasks in flight")
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--redis", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    redis_url, redis = (args.redis, None) if args.redis else start_redis(folder)
    write_rows(folder / "in.jsonl", args.n)
    overrides = ProfileOverrides(fixed_latency_s=args.latency, rpm=args.rpm)
    runs: dict[str, dict[str, float]] = {}
    try:
        with EmulatorServer(EmulatorConfig(seed=3, overrides=overrides), subprocess=True) as server:
            runs["local"] = run_job(folder, server, ["--engine", "local", "-c", str(args.concurrency)], args.rpm)
            time.sleep(61)  # a fresh minute of provider budget for the next run
            ray = ["--engine", "ray", "--workers", str(args.workers), "--chunk-size", str(args.chunk_size)]
            ray += ["-c", str(args.concurrency // args.workers), "--limits-redis", redis_url]
            runs[f"ray x{args.workers}"] = run_job(folder, server, ray, args.rpm)
    finally:
        if redis is not None:
            redis.kill()
            redis.wait()
    print(f"\n{args.n} rows, provider RPM {args.rpm} (enforced by the emulator), {args.latency * 1000:g} ms per answer")
    print("| engine | wall s | rows/s | share of RPM | provider 429s | upstream requests | every row once |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, r in runs.items():
        rate = r["ok"] / r["wall_s"]
        share = min(rate * 60 / args.rpm, 9.99)
        once = "yes" if r["once"] and r["rows"] == args.n else "NO"
        print(
            f"| {name} | {r['wall_s']:.1f} | {rate:.0f} | {share:.0%} | {r['limited']:.0f} | "
            f"{r['upstream']:.0f} | {once} |"
        )


if __name__ == "__main__":
    main()
