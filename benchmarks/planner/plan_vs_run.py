"""The planner's predictions against what ``batch run --plan`` measures, for a 1-hour and a 24-hour deadline.

    python benchmarks/planner/plan_vs_run.py            # 5,000 rows, one plan hour = 60 s (about 4 min)
    python benchmarks/planner/plan_vs_run.py --full     # 20,000 rows, one plan hour = 240 s (about 12 min)

A job of N classification rows (a quarter of them repeat an earlier row) runs against an emulator in
its own process (fixed latency, 5% of flex requests refused, flex 3x slower). For each deadline the
script asks ``inferopt batch plan --json`` for its prediction, then runs the same flags with
``inferopt batch run --plan`` and reads what happened from the output rows, the run's summary and the
emulator's counters.

**Time is scaled through the emulator's batch completion delay**: one hour of the plan is
``--hour`` seconds of the run (60 s by default). The provider's typical batch time (1 h) is the
emulator's ``batch_delay_s`` = ``--hour`` and its 24 h window is 24 x ``--hour``; the deadlines are
1 x and 24 x ``--hour``. The realtime side is not scaled: its latency, concurrency and rates are
the run's own, chosen so that the 1-hour job cannot go all-flex and needs realtime too. Costs are
not scaled at all.

The job asks for a one-word label (``--max-tokens 5``), so both the plan and the run are given
``--answer-tokens 1``: without it the planner prices every answer at max_tokens, its upper bound.

The all-realtime and all-Batch-API costs are the job's measured token usage (every row, repeats
included, as a run without the planner's cache would send them) priced at the standard and batch
rates; the emulator answers a prompt with the same usage live and batched.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.pricing import cost_of
from inferopt.types import Usage

MODEL = "gpt-4o-mini"
RESULTS = Path(__file__).with_name("RESULTS.md")


def write_job(path: Path, n: int, seed: int = 7) -> int:
    """``n`` rows, a quarter of them repeating an earlier row's text; returns the distinct rows."""
    rng = random.Random(seed)
    unique = n - n // 4
    lines = [
        {"id": f"r{i}", "text": f"review {i}: the product was {rng.choice(['fine', 'bad', 'great'])}"}
        for i in range(unique)
    ]
    for j in range(n - unique):
        first = lines[rng.randrange(unique)]
        lines.insert(rng.randrange(len(lines) + 1), {"id": f"again{j}", "text": first["text"]})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return unique


def inferopt(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EMU_KEY": "sk-emulator"}
    done = subprocess.run(
        [sys.executable, "-m", "inferopt", *args], cwd=folder, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"inferopt {' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def emulator_counts(server: EmulatorServer) -> dict[str, int]:
    stats = server.stats_snapshot()
    return {
        "chat": stats["by_route"].get("/v1/chat/completions", 0),
        "refused": stats["faults"].get("flex_refused", 0),
        "batch_lines": stats["batch_billing"]["openai_lines_answered"],
    }


def scenario(server: EmulatorServer, folder: Path, name: str, deadline_s: float, flags: list[str]) -> dict[str, Any]:
    deadline = ["--deadline", f"{deadline_s:g}s"]
    predicted = json.loads(inferopt(folder, "batch", "plan", "in.jsonl", *deadline, *flags, "--json").stdout)
    before = emulator_counts(server)
    output = folder / f"out-{name.replace(' ', '')}.jsonl"
    run = inferopt(folder, "batch", "run", "in.jsonl", "-o", output.name, "--plan", *deadline, *flags, "--poll", "1")
    after = emulator_counts(server)
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    finish = re.search(r"last row at ([\d.]+) s", run.stderr)
    late = re.search(r"(\d+) rows late", run.stderr)
    twice = re.search(r"paid twice  (\d+) rows", run.stderr)
    usage = [Usage(r["usage"]["input_tokens"], r["usage"]["output_tokens"]) for r in rows if r["status"] == "ok"]
    sent = {k: after[k] - before[k] for k in after}
    return {
        "name": name,
        "deadline_s": deadline_s,
        "predicted": predicted,
        "routes": Counter(r.get("route") for r in rows if r["status"] == "ok"),
        "answered": len({r["id"] for r in rows if r["status"] == "ok"}),
        "rows": len(rows),
        "cost": sum(r["cost_usd"] or 0.0 for r in rows),
        "finish_s": float(finish.group(1)) if finish else float("nan"),
        "late": int(late.group(1)) if late else -1,
        "paid_twice": int(twice.group(1)) if twice else -1,
        "paid_upstream": sent["chat"] - sent["refused"] + sent["batch_lines"],
        "all_realtime": sum(cost_of(u, MODEL) for u in usage),
        "all_batch": sum(cost_of(u, MODEL, batch=True) for u in usage),
    }


def _ratio(measured: float, predicted: float) -> str:
    return f"{(measured - predicted) / predicted:+.1%}" if predicted else "n/a"


def table(results: list[dict[str, Any]], hour_s: float, budget: float, unique: int) -> list[str]:
    out = [
        "| deadline | predicted rows cache/flex/realtime/batch | measured | predicted cost | measured cost | Δ cost "
        "| predicted finish | measured finish | Δ time | all-realtime | all-Batch-API | late | paid twice | "
        "paid upstream / distinct rows |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        p = r["predicted"]
        routes = ("cache", "flex", "realtime", "batch")
        planned = "/".join(str(p["rows"][k]) for k in routes)
        measured = "/".join(str(r["routes"][k]) for k in routes)
        hours = lambda s: f"{s / hour_s:.2f} h ({s:.1f} s)"  # noqa: E731
        out.append(
            f"| {r['name']} | {planned} | {measured} | ${p['cost_usd']:.4f} | ${r['cost']:.4f} | "
            f"{_ratio(r['cost'], p['cost_usd'])} | {hours(p['finish_s'])} | {hours(r['finish_s'])} | "
            f"{_ratio(r['finish_s'], p['finish_s'])} | ${r['all_realtime']:.4f} | ${r['all_batch']:.4f} | "
            f"{r['late']} | {r['paid_twice']} | {r['paid_upstream']} / {unique} |"
        )
    out.append("")
    out.append(f"Budget ${budget:.4f} for each run (60% of the all-realtime prediction); one plan hour = {hour_s:g} s.")
    return out


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
    parser.add_argument("-n", type=int, default=5000, help="rows in the job (a quarter repeated)")
    parser.add_argument("--full", action="store_true", help="20,000 rows, one plan hour = 240 s")
    parser.add_argument(
        "--hour", type=float, default=None, help="seconds of the run per plan hour (60 s per 5,000 rows)"
    )
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2, help="the emulator's fixed latency, seconds")
    args = parser.parse_args()
    n = 20_000 if args.full else args.n
    hour_s = args.hour or 60.0 * n / 5000
    emulator = EmulatorConfig(
        seed=7,
        overrides=ProfileOverrides(fixed_latency_s=args.latency),
        flex_refusal_rate=0.05,
        flex_latency_factor=3.0,
        batch_delay_s=hour_s,
    )
    flags = [
        "--template", "Classify the sentiment of this review as positive, negative or neutral: {text}",
        "--max-tokens", "5", "--answer-tokens", "1", "-c", str(args.concurrency), "--latency", f"{args.latency:g}",
        "--flex-latency", f"{3 * args.latency:g}", "--flex-refusal", "0.05",
        "--batch-typical", f"{hour_s:g}s", "--batch-window", f"{24 * hour_s:g}s",
    ]  # fmt: skip
    started = time.monotonic()
    with EmulatorServer(emulator, subprocess=True) as server, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        unique = write_job(folder / "in.jsonl", n)
        (folder / "inferopt.yaml").write_text(
            f"providers:\n  emu: {{kind: openai, base_url: '{server.openai_base_url}', api_key_env: EMU_KEY}}\n"
            f"default_model: emu/{MODEL}\n"
        )
        first = json.loads(
            inferopt(folder, "batch", "plan", "in.jsonl", "--deadline", f"{hour_s:g}s", *flags, "--json").stdout
        )
        budget = round(0.6 * first["realtime_only_usd"], 6)
        flags += ["--budget", f"{budget}"]
        results = [scenario(server, folder, name, k * hour_s, flags) for name, k in (("1 h", 1), ("24 h", 24))]
    command = "python benchmarks/planner/plan_vs_run.py" + (" --full" if args.full else f" -n {n}")
    lines = [
        f"## Plan vs run: {n:,} rows ({n - unique:,} repeats), `{command}`",
        "",
        f"{time.strftime('%Y-%m-%d')}, 2 shared cores, emulator in its own process (latency {args.latency:g} s, "
        f"flex 3x slower, 5% of flex refused), concurrency {args.concurrency}; "
        f"{time.monotonic() - started:.0f} s in all.",
        "",
        f"Time is scaled through the emulator's batch completion delay: one plan hour is {hour_s:g} s of the run "
        f"(the emulator's `batch_delay_s` = the planner's `--batch-typical` = {hour_s:g} s, `--batch-window` = "
        f"{24 * hour_s:g} s, deadlines {hour_s:g} s and {24 * hour_s:g} s); latencies, concurrency and costs are not "
        "scaled. Predictions are `inferopt batch plan --json`; measured figures come from the run's output rows "
        "(cost, route), its summary (last row's time, rows late, rows paid twice) and the emulator's counters "
        "(chat requests less refused flex ones, plus batch lines answered = paid upstream). All-realtime and "
        "all-Batch-API are the job's measured usage, every row, priced at standard and batch rates.",
        "",
        *table(results, hour_s, budget, unique),
    ]
    print("\n".join(lines))
    write_section("plan_vs_run", lines)


if __name__ == "__main__":
    main()
