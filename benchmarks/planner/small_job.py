"""A small job is not slowed by the planner: ``batch run --plan`` against plain ``batch run`` on 100 rows.

    python benchmarks/planner/small_job.py            # 100 rows, 3 runs of each (about 1 min)
    python benchmarks/planner/small_job.py --full     # 100 and 1,000 rows, 5 runs of each

Both commands run as a user runs them (a subprocess), against one emulator in its own process
(fixed latency 0.05 s a request), with the same concurrency, on the same input, into fresh outputs.
The plan run is given a deadline it meets realtime and on flex (`--deadline 1h`, no flex refusals)
so that it sends every row live, as the plain run does; the wall time of each is the median of its
runs, and the figure is their ratio. The planner's fixed costs (the token counter's load, the
first pass over the input, the plan) must not dominate a job this small.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scale import write_rows, write_section  # the script's folder is on sys.path

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides


def wall_s(folder: Path, flags: list[str]) -> float:
    (folder / "out.jsonl").unlink(missing_ok=True)
    args = ["in.jsonl", "-o", "out.jsonl", "--template", "Classify: {text}", "--max-tokens", "5", "--no-progress"]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "inferopt", "batch", "run", *args, *flags],
        cwd=folder,
        env={**os.environ, "EMU_KEY": "sk-emulator"},
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"batch run failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="100 and 1,000 rows, 5 runs of each")
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    args = parser.parse_args()
    sizes, runs = ([100, 1000], 5) if args.full else ([100], 3)
    emulator = EmulatorConfig(seed=1, overrides=ProfileOverrides(fixed_latency_s=0.05), flex_latency_factor=1.0)
    plan = ["--plan", "--deadline", "1h", "--flex-refusal", "0", "--latency", "0.05", "--flex-latency", "0.05"]
    lines = [
        f"## A small job through the planner: `python benchmarks/planner/small_job.py{' --full' if args.full else ''}`",
        "",
        f"{time.strftime('%Y-%m-%d')}, 2 shared cores, emulator in its own process (0.05 s a request, flex as "
        f"fast), concurrency {args.concurrency}; median wall time of {runs} runs of each command, as a user "
        "runs it (a subprocess: Python start-up included).",
        "",
        "| rows | `batch run` s | `batch run --plan` s | ratio |",
        "|---:|---:|---:|---:|",
    ]
    with EmulatorServer(emulator, subprocess=True) as server, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "inferopt.yaml").write_text(
            f"providers:\n  emu: {{kind: openai, base_url: '{server.openai_base_url}', api_key_env: EMU_KEY}}\n"
            "default_model: emu/gpt-4o-mini\n"
        )
        for n in sizes:
            write_rows(folder / "in.jsonl", n)
            common = ["-c", str(args.concurrency)]
            plain = statistics.median(wall_s(folder, common) for _ in range(runs))
            planned = statistics.median(wall_s(folder, [*common, *plan]) for _ in range(runs))
            lines.append(f"| {n:,} | {plain:.2f} | {planned:.2f} | {planned / plain:.2f} |")
            print(lines[-1], flush=True)
    print("\n".join(lines))
    write_section("small_job", lines)


if __name__ == "__main__":
    main()
