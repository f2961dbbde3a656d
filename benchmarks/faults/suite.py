"""The upstream-fault suite: every fault a provider throws, plain and streamed, through our gateway.

    python benchmarks/faults/suite.py            # the documented router defaults (about 5 minutes)
    python benchmarks/faults/suite.py --quick    # router deadlines of 1 s / 1 s / 5 s (about 1 minute)
    python benchmarks/faults/suite.py --json results.json --only stall

Each scenario runs on a fresh rig (:mod:`harness`): a primary and a fallback emulator, our gateway
with ``router/safe`` (``kind: fallback``) over them, and the official ``openai`` SDK. The primary's
faults are scripted by its provider's ``x-emulator-fault`` header (docs/faults.md). Columns:
``extra upstream`` (requests both emulators received beyond one per caller request), ``extra
latency`` (the scenario's time beyond as many healthy answers) and ``pass`` (the behaviour expected,
the upstream requests expected exactly, the latency within its allowance, and for the accounting
rows usage and cost that add up the attempts).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import litellm_rig
from harness import Call, Rig, measure
from scenarios import DEFAULTS, QUICK, SCENARIOS, Bounds, Scenario, judge

from inferopt.routing.cooldowns import PREFIX

USER: Any = [{"role": "user", "content": "Tell me about the sea."}]
LONG: Any = [{"role": "user", "content": "Summarise this report. " + "The tide rose over the old harbour wall. " * 60}]
MAX_TOKENS = 150


def healthy(bounds: Bounds, defaults: bool, stream: bool) -> Call:
    """The healthy answer (the fastest of three, the first one warming up the rig)."""
    run = measure(Rig(router=bounds.router_options(defaults)), [USER] * 3, stream, MAX_TOKENS)
    if not all(c.ok and c.finish == "stop" for c in run.calls):
        raise SystemExit(f"the healthy rig did not answer: {run.calls}")
    return min(run.calls, key=lambda c: c.elapsed_s)


def healthy_litellm(bounds: Bounds, command: str, stream: bool) -> Call:
    run = litellm_rig.measure(Rig(), bounds, command, [USER] * 3, stream, MAX_TOKENS)
    if not all(c.ok and c.finish == "stop" for c in run.calls):
        raise SystemExit(f"the healthy LiteLLM rig did not answer: {run.calls}")
    return min(run.calls, key=lambda c: c.elapsed_s)


def _rig(scenario: Scenario, bounds: Bounds, options: dict[str, Any]) -> Rig:
    return Rig(scenario.script(bounds), scenario.fallback, scenario.fallback_wire, options, scenario.replicas)


def run_litellm(scenario: Scenario, bounds: Bounds, stream: bool, reference: Call, command: str) -> dict[str, Any]:
    """The same scenario through LiteLLM's proxy: its grade, extra upstream requests and latency."""
    if scenario.hedge:
        return {"grade": "n/a", "problems": ["LiteLLM has no hedging"], "extra_upstream": "", "extra_latency_s": None}
    if scenario.replicas > 1:
        forget_litellm_cooldowns()
    prompts = [LONG if scenario.long_prompt else USER] * scenario.requests
    run = litellm_rig.measure(_rig(scenario, bounds, {}), bounds, command, prompts, stream, MAX_TOKENS)
    grade, problems = litellm_rig.grade(scenario, run, reference, bounds, stream)
    extra = sum(c.elapsed_s for c in run.calls) - len(run.calls) * reference.elapsed_s
    return {"grade": grade, "problems": problems, "extra_upstream": run.extra_requests, "extra_latency_s": extra}


def run_one(
    scenario: Scenario, bounds: Bounds, defaults: bool, stream: bool, reference: Call, redis_url: str
) -> dict[str, Any]:
    options = bounds.router_options(defaults, scenario.hedge)
    if scenario.replicas > 1:
        options["shared_cooldown"] = redis_url
        forget_cooldowns(redis_url)
    rig = _rig(scenario, bounds, options)
    prompts = [LONG if scenario.long_prompt else USER] * scenario.requests
    run = measure(rig, prompts, stream, MAX_TOKENS)
    verdict = judge(scenario, run, reference, bounds, stream)
    return {
        "scenario": scenario.name,
        "mode": "stream" if stream else "plain",
        "fault": rig.primary + ("" if rig.fallback == "ok" else f" / fallback {rig.fallback}"),
        "router": options,
        "expected": scenario.expectation(stream),
        "passed": verdict.passed,
        "extra_upstream": run.extra_requests,
        "extra_latency_s": round(verdict.extra_latency_s, 2),
        "total_s": round(sum(c.elapsed_s for c in run.calls), 2),
        "healthy_s": round(reference.elapsed_s, 2),
        "unrescued": verdict.unrescued,
        "problems": verdict.problems,
    }


def forget_cooldowns(redis_url: str) -> None:
    """Drop the holds an earlier run left in Redis (they would hold the primary back from the start)."""
    try:
        import redis

        with redis.Redis.from_url(redis_url, socket_timeout=1.0) as shared:
            for key in shared.scan_iter(PREFIX + "*"):
                shared.delete(key)
    except Exception as exc:  # the row then shows the fail-open behaviour, and says why
        print(f"  Redis at {redis_url} not usable ({type(exc).__name__}): the shared row runs without it", flush=True)


def forget_litellm_cooldowns() -> None:
    """LiteLLM keeps its shared cool-downs in Redis db 0 under keys naming the deployments."""
    try:
        import redis

        with redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1.0) as shared:
            for key in shared.scan_iter("*cooldown*"):
                shared.delete(key)
    except Exception as exc:
        print(f"  Redis not usable for LiteLLM's cool-downs ({type(exc).__name__})", flush=True)


def table(rows: list[dict[str, Any]]) -> str:
    peer = any("litellm" in r for r in rows)
    head = "| scenario | mode | primary fault | expected | pass | extra upstream | extra latency | notes |"
    rule = "|---|---|---|---|---|---:|---:|---|"
    if peer:
        head += " LiteLLM | LiteLLM extra upstream | LiteLLM extra latency | LiteLLM notes |"
        rule += "---|---:|---:|---|"
    lines = [head, rule]
    for r in rows:
        line = (
            f"| {r['scenario']} | {r['mode']} | `{r['fault']}` | {r['expected']} | "
            f"{'pass' if r['passed'] else '**FAIL**'} | {r['extra_upstream']} | {r['extra_latency_s']:+.2f} s | "
            f"{'; '.join(r['problems'])} |"
        )
        if peer:
            p = r.get("litellm", {"grade": "not run", "problems": [], "extra_upstream": "", "extra_latency_s": None})
            latency = "" if p["extra_latency_s"] is None else f"{p['extra_latency_s']:+.2f} s"
            line += f" {p['grade']} | {p['extra_upstream']} | {latency} | {'; '.join(p['problems'])} |"
        lines.append(line)
    return "\n".join(lines)


def peer_summary(rows: list[dict[str, Any]]) -> str:
    grades = Counter(r["litellm"]["grade"] for r in rows if "litellm" in r)
    if not grades:
        return ""
    return "LiteLLM: " + ", ".join(f"{grades[g]} {g}" for g in ("pass", "partial", "safe", "fail", "n/a") if grades[g])


def summary(rows: list[dict[str, Any]], reference: dict[str, Call]) -> str:
    rescued = [r for r in rows if r["mode"] == "stream" and r["scenario"] in ("stream cut", "in-band error event")]
    ratio = max((r["total_s"] / r["healthy_s"] for r in rescued), default=float("nan"))
    return (
        f"{sum(r['passed'] for r in rows)}/{len(rows)} passed; healthy answer {reference['plain'].elapsed_s:.2f} s "
        f"plain, {reference['stream'].elapsed_s:.2f} s streamed; a stream rescued after a cut took at most "
        f"{ratio:.2f}x the healthy one; answers cut or stalled without rescue or clear error: "
        f"{sum(r['unrescued'] for r in rows)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="router deadlines 1 s (first token), 1 s (stall), 5 s (attempt)"
    )
    parser.add_argument("--json", type=Path, help="also write every row as JSON here")
    parser.add_argument("--only", default="", help="run the scenarios whose name contains this")
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM columns even where installed")
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:6379/0", help="Redis for the shared cool-down row (its keys are cleared)"
    )
    args = parser.parse_args()
    bounds = QUICK if args.quick else DEFAULTS
    defaults = not args.quick
    print(
        f"router deadlines: first_token_timeout_s {bounds.first_token_s:g}, stall_timeout_s {bounds.stall_s:g}, "
        f"timeout_s {bounds.attempt_s:g} ({'the documented defaults' if defaults else '--quick: set on the router'})",
        flush=True,
    )
    command = None if args.no_litellm else litellm_rig.find_litellm()
    if command is None:
        print(
            "LiteLLM: skipped ("
            + (
                "--no-litellm"
                if args.no_litellm
                else "not found: set INFEROPT_LITELLM to its `litellm` command or run scripts/install_litellm.sh"
            )
            + ")",
            flush=True,
        )
    else:
        print(f"LiteLLM: {command}, side by side (its deadlines set to the same values)", flush=True)
    started = time.monotonic()
    reference = {mode: healthy(bounds, defaults, mode == "stream") for mode in ("plain", "stream")}
    peer_reference = {} if command is None else {m: healthy_litellm(bounds, command, m == "stream") for m in reference}
    rows = []
    for scenario in (s for s in SCENARIOS if args.only.lower() in s.name.lower()):
        for mode in ("plain", "stream"):
            row = run_one(scenario, bounds, defaults, mode == "stream", reference[mode], args.redis)
            peer = ""
            if command is not None:
                row["litellm"] = run_litellm(scenario, bounds, mode == "stream", peer_reference[mode], command)
                peer = f"  | LiteLLM {row['litellm']['grade']} {row['litellm']['problems']}"
            print(
                f"  {row['scenario']:<28} {mode:<6} {'pass' if row['passed'] else 'FAIL'}  {row['problems']}{peer}",
                flush=True,
            )
            rows.append(row)
    print()
    print(table(rows))
    print()
    print(summary(rows, reference) + f"; suite took {time.monotonic() - started:.0f} s")
    if command is not None:
        print(peer_summary(rows) + f"; its healthy answer {peer_reference['plain'].elapsed_s:.2f} s plain")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
