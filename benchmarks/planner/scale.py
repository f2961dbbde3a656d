"""A million rows in flat memory: ``inferopt batch run`` over a large JSONL input, its peak RSS by size.

    python benchmarks/planner/scale.py              # 10,000 and 100,000 rows
    python benchmarks/planner/scale.py --full       # and 1,000,000
    python benchmarks/planner/scale.py --plan       # through `batch run --plan` (realtime/flex) instead

Each size writes a JSONL input of N classification rows, runs ``inferopt batch run`` on it (a
subprocess, as a user runs it) against an emulator in its own process answering at once, and
reads the command's peak resident set size from the kernel (``wait4``'s ``ru_maxrss``). The job
must stay flat: the journal is appended row by row and the output streamed, so peak RSS should not
grow with N (target: under 200 MB at every size).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

RESULTS = Path(__file__).with_name("RESULTS.md")


def write_rows(path: Path, n: int) -> None:
    with path.open("w") as out:
        for i in range(n):
            out.write(json.dumps({"id": f"r{i}", "text": f"review {i}: the delivery was quick and the box intact"}))
            out.write("\n")


def measure(server: EmulatorServer, folder: Path, n: int, concurrency: int, plan: bool) -> dict[str, float]:
    write_rows(folder / "in.jsonl", n)
    (folder / "out.jsonl").unlink(missing_ok=True)
    (folder / "inferopt.yaml").write_text(
        f"providers:\n  emu: {{kind: openai, base_url: '{server.openai_base_url}', api_key_env: EMU_KEY}}\n"
        "default_model: emu/gpt-4o-mini\n"
    )
    args = ["in.jsonl", "-o", "out.jsonl", "--template", "Classify: {text}", "--max-tokens", "5"]
    args += ["-c", str(concurrency), "--no-progress"]
    if plan:
        args += ["--plan", "--deadline", "30d", "--flex-refusal", "0", "--batch-window", "60d"]  # live only
    env = {**os.environ, "EMU_KEY": "sk-emulator"}
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "inferopt", "batch", "run", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if child.returncode != 0:
        raise RuntimeError(f"batch run failed ({child.returncode}): {err[-2000:]}")
    lines = sum(1 for _ in (folder / "out.jsonl").open())
    assert lines == n, f"{lines} output lines for {n} rows"
    return {"rows": n, "wall_s": wall, "rows_per_s": n / wall, "peak_rss_mb": usage.ru_maxrss / 1024}


def write_section(marker: str, lines: list[str]) -> None:
    """Replace this benchmark's section of RESULTS.md (between its markers), keeping the others."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    text = RESULTS.read_text() if RESULTS.exists() else "# Planner benchmarks\n"
    block = "\n".join([start, *lines, end])
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--full", action="store_true", help="also 1,000,000 rows")
    parser.add_argument("--plan", action="store_true", help="run through `batch run --plan`")
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    args = parser.parse_args()
    sizes = [*args.sizes, 1_000_000] if args.full else args.sizes
    emulator = EmulatorConfig(seed=1, overrides=ProfileOverrides(fixed_latency_s=0.0))
    results = []
    with EmulatorServer(emulator, subprocess=True) as server, tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            results.append(measure(server, Path(tmp), n, args.concurrency, args.plan))
            print(results[-1], flush=True)
    how = "`batch run --plan`" if args.plan else "`batch run`"
    command = "python benchmarks/planner/scale.py" + (" --full" if args.full else "") + (" --plan" if args.plan else "")
    lines = [
        f"## Flat memory: {how} by input size, `{command}`",
        "",
        f"{time.strftime('%Y-%m-%d')}, 2 shared cores, emulator in its own process answering at once, "
        f"concurrency {args.concurrency}, max_tokens 5. Peak RSS is the command's own (`wait4` ru_maxrss).",
        "",
        "| rows | wall s | rows/s | peak RSS MB |",
        "|---:|---:|---:|---:|",
        *(f"| {r['rows']:,} | {r['wall_s']:.1f} | {r['rows_per_s']:.0f} | {r['peak_rss_mb']:.0f} |" for r in results),
    ]
    print("\n".join(lines))
    write_section("scale_plan" if args.plan else "scale", lines)


if __name__ == "__main__":
    main()
