"""What does running a batch job again cost? Upstream requests counted on an emulator, per path.

    python benchmarks/durability/reruns.py            # 300 rows per case (about a minute)
    python benchmarks/durability/reruns.py -n 3000    # larger

Each case runs ``inferopt batch run`` (a subprocess, as a user runs it) against an emulator and
counts what the emulator received; "repaid" is the requests beyond the minimum the case needs:

- finished job, same command again: the minimum is 0;
- rerun after failures (30% of first attempts answer 500, ``--max-attempts 1``): the failed rows;
- changed ``--max-tokens`` on the rerun: 0 (the run must stop and say so);
- a torn last journal line (a write cut by ``kill -9``): the rows left plus the torn one;
- N rows of N/10 distinct prompts at temperature 0.7 with ``--cache``: N/10.

``tests/parallel/test_batch_rerun.py`` asserts the same cases at a small N.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "parallel"))
from resume import batch, config_for, finish, read_output, write_rows

from inferopt.emulator import EmulatorConfig, EmulatorServer, FaultConfig, ProfileOverrides


def _server(faults: FaultConfig | None = None, latency: float = 0.01) -> EmulatorServer:
    return EmulatorServer(
        EmulatorConfig(seed=7, overrides=ProfileOverrides(fixed_latency_s=latency), faults=faults or FaultConfig())
    )


def _run(folder: Path, server: EmulatorServer, *extra: str) -> tuple[int, str]:
    cfg = str(config_for(server, folder))
    return finish(batch(folder, "in.jsonl", "-o", "out.jsonl", "--config", cfg, "-c", "16", *extra))


def finished_rerun(folder: Path, n: int) -> tuple[int, int, str]:
    write_rows(folder / "in.jsonl", n)
    with _server() as server:
        _run(folder, server)
        before = server.stats.requests_total
        _, err = _run(folder, server)
        return 0, server.stats.requests_total - before, "nothing to do" if "nothing to do" in err else "NO message"


def rerun_after_failures(folder: Path, n: int) -> tuple[int, int, str]:
    write_rows(folder / "in.jsonl", n)
    with _server(FaultConfig(error_rate=0.3)) as flaky:
        _run(folder, flaky, "--max-attempts", "1")
    failed = sum(1 for r in read_output(folder / "out.jsonl") if r["status"] != "ok")
    with _server() as healthy:
        _run(folder, healthy)
        return failed, healthy.stats.requests_total, f"{failed} failed rows retried"


def changed_rerun(folder: Path, n: int) -> tuple[int, int, str]:
    write_rows(folder / "in.jsonl", n)
    with _server() as server:
        _run(folder, server, "--max-tokens", "20")
        before = server.stats.requests_total
        code, err = _run(folder, server, "--max-tokens", "40")
        said = "stopped, names --restart" if code == 1 and "--restart" in err else "NOT stopped"
        return 0, server.stats.requests_total - before, said


def torn_journal(folder: Path, n: int) -> tuple[int, int, str]:
    write_rows(folder / "in.jsonl", n)
    with _server(latency=0.2) as server:
        _run(folder, server, "--deadline", "2s")
        first = server.stats.requests_total
        journal = folder / "out.jsonl.journal"
        data = journal.read_bytes()
        journal.write_bytes(data[: len(data) - 40])
        _run(folder, server)
        return n - first + 1, server.stats.requests_total - first, f"first run answered {first}"


def cached_repeats(folder: Path, n: int) -> tuple[int, int, str]:
    distinct = max(1, n // 10)
    rows = [json.dumps({"id": f"r{i}", "text": f"prompt {i % distinct}"}) for i in range(n)]
    (folder / "in.jsonl").write_text("\n".join(rows) + "\n")
    with _server() as server:
        _, err = _run(folder, server, "--cache", f"sqlite:///{folder / 'cache.db'}", "--temperature", "0.7", "-c", "1")
        line = next((x.strip() for x in err.splitlines() if x.startswith("cache")), "no cache line")
        return distinct, server.stats.requests_total, line


CASES = {
    "finished job, same command": finished_rerun,
    "rerun after 30% failures": rerun_after_failures,
    "changed --max-tokens": changed_rerun,
    "torn last journal line": torn_journal,
    "--cache, 10% distinct, temp 0.7": cached_repeats,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=300, help="rows per case")
    args = parser.parse_args()
    print(f"reruns of `inferopt batch run`, {args.n} rows per case; requests counted on the emulator")
    print(f"{'case':<34} {'minimum':>8} {'sent':>6} {'repaid':>7}  note")
    for name, case in CASES.items():
        with tempfile.TemporaryDirectory() as folder:
            minimum, sent, note = case(Path(folder), args.n)
        print(f"{name:<34} {minimum:>8} {sent:>6} {sent - minimum:>7}  {note}")


if __name__ == "__main__":
    main()
