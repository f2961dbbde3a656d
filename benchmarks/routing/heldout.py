"""Routers judged on rows they were not trained on: RouterBench, RouteLLM MMLU, MT-Bench and GSM8K.

    python benchmarks/routing/heldout.py [--full] [--data ../shared/data]

Every figure comes from `inferopt route eval ... --json` (run in-process), so the command line
gives the same numbers. Each dataset is split by prompt (seeded, stratified by source); the
routers are trained on one part and scored on the other, next to every single model, random
mixes and the oracle. Reported per dataset and seed:

- RouterBench (ARC, MBPP, Winogrande; 11 models): GPT-4's accuracy, the share of GPT-4's cost at
  which each router's curve reaches it (read on the hull: a random mix of two settings), and the
  best accuracy within 30% and 50% of its cost;
- RouteLLM MMLU and GSM8K (Mixtral vs GPT-4), MT-Bench: APGR on the dense curve and as RouteLLM's
  `evals/evaluate.py` computes it (ten quantile bins of the router's strong-model score,
  trapezoids over the strong-call share), against RouteLLM's best published MMLU APGR 0.603;
- on every dataset, APGR by cost (mean PGR of the curve's hull from the cheapest model's cost to
  the most accurate model's);
- RouterArena's summary (accuracy, cost per 1,000 queries, combined score) of each router.

Default: seeds 0-2, the kNN routers and one learned answer cascade (about 30 s on 2 cores).
``--full``: seeds 0-9 (about 2 minutes). A dataset missing under --data is skipped with a note (RouteLLM's
`gsm8k_responses.csv` is not in ../shared/data; point --data at a folder holding
`routellm/gsm8k/` to include it).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from inferopt.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
CASCADE = "mistralai/mixtral-8x7b-chat+zero-one-ai/Yi-34B-Chat>gpt-4-1106-preview"
ROUTELLM_BEST_MMLU = 0.603  # RouteLLM (Ong et al. 2024), best router on MMLU, as ../shared/data/README.md cites
WIDTHS = (13, 9, 9, 6, 8, 8, 6)
RUNS = {  # dataset -> (path under --data, extra `route eval` arguments)
    "RouterBench": ("routerbench", ["--train-fraction", "0.5", "--answer-cascade", CASCADE]),
    "MMLU": ("routellm/mmlu", ["--train-fraction", "0.5", "--cost-estimate", "mean"]),
    "GSM8K": ("routellm/gsm8k", ["--train-fraction", "0.5", "--cost-estimate", "mean"]),
    "MT-Bench": ("routellm/mt_bench", ["--train-fraction", "0.5", "--cost-estimate", "mean", "--k", "10"]),
}


def best_within(entry: dict[str, Any], budget: float) -> float | None:
    return max((p["accuracy"] for p in entry["points"] if p["cost_per_query"] <= budget), default=None)


def evaluate(path: Path, args: list[str], seed: int) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["route", "eval", str(path), "--json", "--seed", str(seed), *args])
    if result.exit_code != 0:
        raise SystemExit(f"{path}: {result.output.strip()}")
    return json.loads(result.output)


def fmt(value: float | None, pattern: str = "{:.3f}", missing: str = "-") -> str:
    return missing if value is None else pattern.format(value)


def report(name: str, seed: int, summary: dict[str, Any]) -> None:
    strongest = summary["strongest"]
    entries = {e["name"]: e for e in summary["entries"]}
    strong = entries[strongest]["operating_point"]
    cost = strong["cost_per_query"]
    rows = summary["rows"]
    print(f"\n{name}, seed {seed}: {rows} held-out rows; {strongest} {strong['accuracy']:.3f} at ${cost * 1000:.3f}/1k")
    heads = ("reaches it at", "best@30%", "best@50%", "APGR", "APGR RL", "by cost", "arena")
    print(f"{'router':52} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, WIDTHS, strict=True)))
    for entry in summary["entries"]:
        if entry["kind"] == "model" and entry["name"] != strongest:
            continue
        metrics = entry["metrics"]
        reach = entry["cost_to_reach"][strongest]["share_of_its_cost"]
        cells = (
            fmt(reach, "{:.1%}", "never"),
            fmt(best_within(entry, 0.3 * cost)),
            fmt(best_within(entry, 0.5 * cost)),
            *(fmt(metrics.get(m)) for m in ("apgr", "apgr_routellm", "apgr_by_cost")),
            f"{entry['routerarena']['score']:.3f}",
        )
        print(f"{entry['name'][:52]:52} " + " ".join(f"{c:>{w}}" for c, w in zip(cells, WIDTHS, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="seeds 0-9 instead of 0-2")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="folder of the datasets")
    args = parser.parse_args()
    seeds = range(10) if args.full else range(3)
    started = time.perf_counter()
    apgr: dict[str, list[float]] = {}
    for name, (relative, extra) in RUNS.items():
        path = args.data / relative
        if not path.exists():
            print(f"\n{name}: skipped, {path} is not present")
            continue
        for seed in seeds:
            summary = evaluate(path, extra, seed)
            report(name, seed, summary)
            knn = next(e for e in summary["entries"] if e["name"] == "knn")
            if "apgr_routellm" in knn["metrics"]:
                apgr.setdefault(name, []).append(knn["metrics"]["apgr_routellm"])
    for name, values in apgr.items():
        print(f"\n{name}: kNN APGR (RouteLLM's way) {', '.join(f'{v:.3f}' for v in values)}", end="")
        print(f"; RouteLLM's best published MMLU: {ROUTELLM_BEST_MMLU}" if name == "MMLU" else "")
    print(f"\n({time.perf_counter() - started:.0f} s; {'--full' if args.full else 'seeds 0-2; --full for seeds 0-9'})")


if __name__ == "__main__":
    main()
