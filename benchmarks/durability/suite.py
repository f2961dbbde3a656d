"""The durability suite: what each fault on a user's path costs, in upstream requests, in one table.

    python benchmarks/durability/suite.py            # reduced run (about 3-5 minutes)
    python benchmarks/durability/suite.py --full     # 20,000-row kill, 3,000-row reruns, 3 rounds of replicas
    python benchmarks/durability/suite.py --only reruns,submit

Every case runs what a user runs (``inferopt batch run|submit``, ``inferopt serve`` replicas, as
subprocesses) against an emulator that counts what it received, and states the most the fault may
cost: the requests in flight when it struck (``bound``). ``extra`` is what was paid beyond the
answers the job needed; a row passes when ``extra <= bound`` and nothing was lost or doubled.
The cases reuse the focused benchmarks beside this file (``reruns.py``, ``replicas.py``) and
``benchmarks/parallel/resume.py``; ``soak.py`` (memory) runs on its own, it takes 10 minutes.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "parallel")]
import replicas  # noqa: E402
import reruns  # noqa: E402
from resume import kill_and_resume  # noqa: E402

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides  # noqa: E402
from inferopt.gateway.keys_redis import RedisKeyStore  # noqa: E402


@dataclass
class Row:
    path: str
    needed: int  # upstream requests the job needed whatever happened
    sent: int  # upstream requests the emulator received
    bound: int  # the most the fault may add: requests in flight when it struck
    ok: bool  # nothing lost, nothing doubled, the right answer to the user
    note: str

    @property
    def extra(self) -> int:
        return self.sent - self.needed

    @property
    def passed(self) -> bool:
        return self.ok and self.extra <= self.bound


def kill_mid_run(n: int) -> list[Row]:
    config = EmulatorConfig(seed=5, overrides=ProfileOverrides(fixed_latency_s=0.2))
    with EmulatorServer(config, subprocess=True) as server, tempfile.TemporaryDirectory() as folder:
        run = kill_and_resume(server, Path(folder), n, 50)
    clean = run.duplicates == 0 and run.missing == 0
    note = (
        f"{run.recorded_at_kill} answered at the kill, {run.in_flight_at_kill} seen in flight just before it "
        f"(at most -c {run.concurrency}); {run.duplicates} duplicates, {run.missing} missing"
    )
    bound = max(run.in_flight_at_kill, run.concurrency)  # what was sent and not yet answered when it died
    return [Row("batch run: kill -9 at 50%, rerun", n, run.emulator_requests, bound, clean, note)]


def rerun_cases(n: int) -> list[Row]:
    rows = []
    for name, case in reruns.CASES.items():
        with tempfile.TemporaryDirectory() as folder:
            minimum, sent, note = case(Path(folder), n)
        stopped = "NOT" not in note and "NO message" not in note
        rows.append(Row(f"batch run rerun: {name}", minimum, sent, 0, stopped, note))
    return rows


def submit_cases(n: int) -> list[Row]:
    """``batch submit`` killed right after the provider created a batch, before we recorded it."""
    rows = []
    for wire, model in (("openai", "oa/gpt-4o-mini"), ("anthropic", "claude/claude-haiku-4-5")):
        with EmulatorServer(EmulatorConfig(seed=3)) as server, tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "inferopt.yaml").write_text(
                "providers:\n"
                f"  oa: {{kind: openai, base_url: '{server.openai_base_url}', api_key_env: EMU_BATCH_KEY}}\n"
                f"  claude: {{kind: anthropic, base_url: '{server.anthropic_base_url}', api_key_env: EMU_BATCH_KEY}}\n"
            )
            lines = (json.dumps({"id": f"r{i}", "text": f"item {i}"}) + "\n" for i in range(n))
            (folder / "rows.jsonl").write_text("".join(lines))
            args = ("submit", "rows.jsonl", "-m", model, "--template", "Classify: {text}", "--batch-size", str(n // 3))
            killed = _submit(folder, args, fault="hold:after-create@1")
            code = _submit(folder, args)
            assert server.app is not None
            bill = server.app.batches.billing
            batches, requests = (
                (bill.anthropic_batches, bill.anthropic_requests)
                if wire == "anthropic"
                else (bill.openai_batches, bill.openai_requests)
            )
            chunks = -(-n // (n // 3))
            note = f"SIGKILL exit {killed}, rerun exit {code}; {batches} provider batches for {chunks} chunks"
            rows.append(Row(f"batch submit ({wire}): SIGKILL after create", n, requests, 0, batches == chunks, note))
    return rows


def _submit(folder: Path, args: tuple[str, ...], fault: str | None = None) -> int:
    env = {**os.environ, "EMU_BATCH_KEY": "sk-emu-suite"}
    env.pop("INFEROPT_BATCH_FAULT", None)
    if fault:
        env["INFEROPT_BATCH_FAULT"] = fault
    command = [sys.executable, "-m", "inferopt", "batch", *args, "--config", "inferopt.yaml"]
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if fault:
        assert process.stderr is not None
        for line in process.stderr:
            if "holding at" in line:
                process.send_signal(signal.SIGKILL)
                break
    process.communicate(timeout=120)
    return process.returncode


def redis_outage(n: int) -> list[Row]:
    """Redis SIGKILLed between two waves: keyed replica fails closed, unkeyed limiter and cache fail open."""
    folder = Path(tempfile.mkdtemp(prefix="bench-outage-"))
    url, redis = replicas.start_redis(folder)
    emulator = EmulatorServer(EmulatorConfig(seed=5, overrides=ProfileOverrides(fixed_latency_s=0.05)), subprocess=True)
    started: list[tuple[int, subprocess.Popen[bytes]]] = []
    try:
        emulator.start()
        provider = {"kind": "openai", "base_url": emulator.openai_base_url, "api_key_env": "BENCH_KEY"}
        stack = [{"rate_limit": {"rpm": 100_000, "redis": url}}, {"cache": {"url": url.replace("/0", "/1")}}]
        config = folder / "gateway.yaml"
        config.write_text(json.dumps({"providers": {"emu": provider}, "stack": stack}))
        keyed = replicas.start_replicas(1, config, url, folder)
        started += keyed
        open_config = folder / "open.yaml"
        open_config.write_text(json.dumps({"providers": {"emu": provider}, "stack": stack}))
        unkeyed = _replica_without_keys(open_config, folder)
        started.append(unkeyed)

        async def waves() -> tuple[list[tuple[int, str, float]], list[tuple[int, str, float]], int]:
            store = RedisKeyStore(url)
            _, secret = await store.create("suite-outage", budget_usd=100.0)
            await store.aclose()
            before = emulator.stats_snapshot()["requests_total"]
            up = await replicas.fire([keyed[0][0], unkeyed[0]], secret, n)
            redis.kill()  # type: ignore[union-attr]
            redis.wait()  # type: ignore[union-attr]
            down = await replicas.fire([keyed[0][0], unkeyed[0]], secret, n)
            return up, down, emulator.stats_snapshot()["requests_total"] - before

        up, down, upstream = asyncio.run(waves())
    finally:
        for _, process in started:
            process.terminate()
            process.wait(timeout=15)
        emulator.stop()
        if redis is not None and redis.poll() is None:
            redis.kill()
    ok = sum(1 for status, _, _ in up + down if status == 200)
    closed = sum(1 for status, code, _ in down if status == 503 and code == "store_unavailable")
    bad = [f"{s} {c}" for s, c, _ in up + down if s != 200 and not (s == 503 and c == "store_unavailable")]
    note = f"{ok} answered, {closed} refused 503 store_unavailable (keyed, Redis down), {len(bad)} other"
    # Every request is a distinct call only once: the cache (fail-open) may answer repeats, never pay twice.
    return [Row("gateway: Redis SIGKILLed mid-run", ok, upstream, 0, not bad and upstream <= ok, note)]


def _replica_without_keys(config: Path, folder: Path) -> tuple[int, subprocess.Popen[bytes]]:
    port, log = replicas.free_port(), folder / "open.log"
    command = [sys.executable, "-m", "inferopt", "serve", "--config", str(config), "--port", str(port)]
    with open(log, "wb") as out:
        env = {**os.environ, "BENCH_KEY": "sk-bench-upstream"}
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    replicas.wait_port(port, process, "open replica", log)
    return port, process


def replica_cases(n: int, rounds: int) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="bench-suite-replicas-"))
    url, redis = replicas.start_redis(folder)
    emulator = EmulatorServer(EmulatorConfig(seed=5, overrides=ProfileOverrides(fixed_latency_s=0.2)), subprocess=True)
    running: list[tuple[int, subprocess.Popen[bytes]]] = []
    rows = []
    try:
        emulator.start()
        config = folder / "gateway.yaml"
        provider = {"kind": "openai", "base_url": emulator.openai_base_url, "api_key_env": "BENCH_KEY"}
        config.write_text(json.dumps({"providers": {"emu": provider}}))
        running = replicas.start_replicas(4, config, url, folder)
        ports = [port for port, _ in running]
        asyncio.run(replicas.warm_up(ports, url))
        options = argparse.Namespace(requests=n, fit=int(n * 0.4))
        for i in range(rounds):
            r = asyncio.run(replicas.one_round(ports, url, emulator, options))
            note = (
                f"{r['ok']:.0f} ok, {r['refused']:.0f} budget-refused, {r['errors']:.0f} errors, "
                f"overspend ${r['overspend']:.6f}, p99 {r['p99_ms']:.0f} ms"
            )
            clean = r["errors"] == 0 and r["overspend"] == 0
            rows.append(
                Row(
                    f"{n} concurrent over 4 replicas, one budget ({i + 1})",
                    int(r["ok"]),
                    int(r["upstream"]),
                    0,
                    clean,
                    note,
                )
            )
    finally:
        for _, process in running:
            process.terminate()
            process.wait(timeout=15)
        emulator.stop()
        if redis is not None:
            redis.kill()
            redis.wait()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the issue's sizes (about 15 minutes)")
    parser.add_argument("--only", default="", help="comma-separated: kill,reruns,submit,outage,replicas")
    args = parser.parse_args()
    full = args.full
    cases: dict[str, Callable[[], list[Row]]] = {
        "kill": lambda: kill_mid_run(20_000 if full else 2_000),
        "reruns": lambda: rerun_cases(3_000 if full else 300),
        "submit": lambda: submit_cases(30),
        "outage": lambda: redis_outage(400 if full else 200),
        "replicas": lambda: replica_cases(3_000 if full else 1_000, 3 if full else 1),
    }
    chosen = [c for c in args.only.split(",") if c] or list(cases)
    print(f"durability suite ({'full' if full else 'reduced'} run): upstream requests counted on the emulator")
    print("| path | needed | sent | extra | bound | result | what happened |")
    print("|---|---:|---:|---:|---:|---|---|")
    failed = 0
    for name in chosen:
        for row in cases[name]():
            failed += not row.passed
            verdict = "pass" if row.passed else "FAIL"
            print(
                f"| {row.path} | {row.needed} | {row.sent} | {row.extra} | {row.bound} | {verdict} | {row.note} |",
                flush=True,
            )
    print(f"{failed} failed" if failed else "every path held its bound")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
