"""Resume after ``kill -9``: how many requests does a killed and rerun ``inferopt batch run`` send?

    python benchmarks/parallel/resume.py                 # 2,000 rows, concurrency 50, 200 ms latency
    python benchmarks/parallel/resume.py -n 500 -c 20    # smaller

Runs ``inferopt batch run`` (a subprocess, as a user runs it) on N rows against an emulator in its
own process with a fixed latency, kills it with SIGKILL once about half of the answers are recorded
in its journal, reruns the same command, and counts what the emulator received in total. The bound:
every row is sent once, except at most the ones in flight when the first run died (at most the
concurrency), so emulator requests <= N + concurrency; the output has every row exactly once.

``tests/parallel/test_batch_run.py`` runs the same experiment (these functions) at a small N and
asserts the bound.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides


def write_rows(path: Path, n: int, *, bad_lines: dict[int, str] | None = None) -> None:
    """``n`` JSONL rows ``{"id": "r<i>", "text": ...}``, with ``bad_lines`` inserted at their positions."""
    lines = [json.dumps({"id": f"r{i}", "text": f"review number {i} was fine"}) for i in range(n)]
    for at, text in sorted((bad_lines or {}).items()):
        lines.insert(at, text)
    path.write_text("\n".join(lines) + "\n")


def config_for(server: EmulatorServer, folder: Path) -> Path:
    """An ``inferopt.yaml`` in ``folder`` whose one provider is ``server``."""
    path = folder / "inferopt.yaml"
    path.write_text(
        "providers:\n"
        f"  emu: {{kind: openai, base_url: '{server.openai_base_url}', api_key_env: EMU_KEY}}\n"
        "default_model: emu/gpt-4o-mini\n"
    )
    return path


def batch(folder: Path, *args: str) -> subprocess.Popen[str]:
    """``inferopt batch run ARGS`` started in ``folder`` (stdout and stderr piped)."""
    env = {**os.environ, "EMU_KEY": "sk-emulator-test"}
    return subprocess.Popen(
        [sys.executable, "-m", "inferopt", "batch", "run", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout_s: float = 300) -> tuple[int, str]:
    """Wait for the process; its exit code and stderr."""
    _, err = process.communicate(timeout=timeout_s)
    return process.returncode, err


def read_output(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def journal_records(journal: Path) -> int:
    """Answers recorded in a journal (its lines after the header; a line cut by the kill does not count)."""
    if not journal.exists():
        return 0
    records = 0
    for line in journal.read_text().splitlines()[1:]:
        try:
            json.loads(line)
        except ValueError:
            continue
        records += 1
    return records


@dataclass
class ResumeRun:
    """What one kill-and-rerun experiment saw."""

    n: int
    concurrency: int
    recorded_at_kill: int
    in_flight_at_kill: int  # the emulator's own count of unanswered requests just before the kill
    emulator_requests: int
    output_rows: list[dict]
    rerun_stderr: str
    journal_left: bool

    @property
    def bound(self) -> int:
        return self.n + self.concurrency

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in Counter(r["id"] for r in self.output_rows).values())

    @property
    def missing(self) -> int:
        return len({f"r{i}" for i in range(self.n)} - {r["id"] for r in self.output_rows})


def kill_and_resume(server: EmulatorServer, folder: Path, n: int, concurrency: int, at: float = 0.5) -> ResumeRun:
    """Run a batch of ``n`` rows, SIGKILL it when ``at`` of them are journaled, rerun it to the end."""
    write_rows(folder / "in.jsonl", n)
    args = ("in.jsonl", "-o", "out.jsonl", "--config", str(config_for(server, folder)), "-c", str(concurrency))
    before = server.stats_snapshot()["requests_total"]
    first = batch(folder, *args)
    journal = folder / "out.jsonl.journal"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None and journal_records(journal) < n * at:
        time.sleep(0.01)
    in_flight = server.stats_snapshot()["in_flight"]
    first.send_signal(signal.SIGKILL)
    first.communicate()  # reap it and close its pipes
    recorded = journal_records(journal)
    code, err = finish(batch(folder, *args))
    if code != 0:
        raise RuntimeError(f"the rerun failed ({code}): {err}")
    return ResumeRun(
        n=n,
        concurrency=concurrency,
        recorded_at_kill=recorded,
        in_flight_at_kill=in_flight,
        emulator_requests=server.stats_snapshot()["requests_total"] - before,
        output_rows=read_output(folder / "out.jsonl"),
        rerun_stderr=err,
        journal_left=journal.exists(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000, help="rows in the job")
    parser.add_argument("-c", "--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.2, help="the emulator's fixed latency, seconds")
    args = parser.parse_args()
    config = EmulatorConfig(seed=5, overrides=ProfileOverrides(fixed_latency_s=args.latency))
    with EmulatorServer(config, subprocess=True) as server, tempfile.TemporaryDirectory() as folder:
        run = kill_and_resume(server, Path(folder), args.n, args.concurrency)
    ok = sum(1 for r in run.output_rows if r["status"] == "ok")
    header = (
        f"{'N':>6} {'answers before kill':>19} {'in flight at kill':>17} {'concurrency':>11} "
        f"{'emulator requests':>17} {'bound N+conc':>12} {'output lines':>12} {'ok':>6} {'duplicates':>10} "
        f"{'missing':>7}"
    )
    print(f"kill -9 then rerun: `inferopt batch run`, emulator latency {args.latency * 1000:g} ms in its own process")
    print(header)
    print(
        f"{run.n:>6} {run.recorded_at_kill:>19} {run.in_flight_at_kill:>17} {run.concurrency:>11} "
        f"{run.emulator_requests:>17} {run.bound:>12} {len(run.output_rows):>12} {ok:>6} {run.duplicates:>10} "
        f"{run.missing:>7}"
    )
    held = run.emulator_requests <= run.bound and run.duplicates == 0 and run.missing == 0
    print(f"bound held: {'yes' if held else 'NO'}; requests sent again: {run.emulator_requests - run.n}")


if __name__ == "__main__":
    main()
