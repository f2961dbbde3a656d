"""``inferopt batch run --plan`` as a user runs it, against the emulator over real HTTP.

Every test counts what the emulator was asked to do: chat requests (realtime and flex, refusals
included), and Batch API lines that ran. No row is paid twice, every row is answered once, and the
job's cost is the sum of its parts, each priced at its own tier.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import benchmark_resume as resume  # loaded by conftest.py from benchmarks/parallel/resume.py
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.pricing import cost_of
from inferopt.types import Usage

PLAN = (sys.executable, "-m", "inferopt", "batch", "plan")
TIER = {"realtime": {}, "flex": {"tier": "flex"}, "batch": {"batch": True}}


def _emulator(**settings: float) -> EmulatorServer:
    return EmulatorServer(EmulatorConfig(seed=3, overrides=ProfileOverrides(fixed_latency_s=0.05), **settings))


def _rows(folder: Path, n: int, repeats: int = 0) -> None:
    """``n`` rows, the last ``repeats`` of them asking what earlier rows ask (another id, the same text)."""
    lines = [{"id": f"r{i}", "text": f"review number {i} was fine"} for i in range(n - repeats)]
    lines += [{"id": f"again{i}", "text": f"review number {i} was fine"} for i in range(repeats)]
    (folder / "in.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def _plan_run(server: EmulatorServer, folder: Path, *flags: str) -> str:
    args = ("in.jsonl", "-o", "out.jsonl", "--config", str(resume.config_for(server, folder)), "--plan")
    code, err = resume.finish(
        resume.batch(folder, *args, "--template", "Classify: {text}", "--max-tokens", "5", "--poll", "0.2", *flags)
    )
    assert code == 0, err
    return err


def _chat_requests(server: EmulatorServer) -> int:
    return server.stats_snapshot()["by_route"].get("/v1/chat/completions", 0)


def _check_answered_once_and_priced_by_route(folder: Path, n: int) -> list[dict]:
    rows = resume.read_output(folder / "out.jsonl")
    assert len(rows) == n and all(r["status"] == "ok" for r in rows)
    assert Counter(r["id"] for r in rows).most_common(1)[0][1] == 1
    for r in rows:  # the mixed plan's cost is the sum of its parts, each at its tier's price
        if r["route"] != "cache":
            usage = Usage(r["usage"]["input_tokens"], r["usage"]["output_tokens"])
            assert r["cost_usd"] == pytest.approx(cost_of(usage, "gpt-4o-mini", **TIER[r["route"]]))
        else:
            assert r["cost_usd"] == 0.0
    return rows


def test_a_short_deadline_mixes_cache_flex_and_realtime_and_refused_flex_goes_realtime(tmp_path: Path) -> None:
    with _emulator(flex_refusal_rate=0.2, flex_latency_factor=3.0) as server:
        _rows(tmp_path, 10)
        cache = f"sqlite:///{tmp_path / 'cache.db'}"
        _plan_run(server, tmp_path, "--deadline", "5s", "--cache", cache)  # the cache now answers these 10
        (tmp_path / "out.jsonl").unlink()
        before = _chat_requests(server)
        refused_before = server.stats_snapshot()["faults"].get("flex_refused", 0)
        _rows(tmp_path, 80, repeats=20)
        err = _plan_run(
            server, tmp_path, "--deadline", "1.5s", "--cache", cache, "-c", "4",
            "--latency", "0.05", "--flex-latency", "0.15", "--flex-refusal", "0.2",
        )  # fmt: skip
        rows = _check_answered_once_and_priced_by_route(tmp_path, 80)
        routes = Counter(r["route"] for r in rows)
        assert routes["cache"] == 30  # 10 in the cache + 20 repeats, none sent
        assert routes["flex"] > 0 and routes["realtime"] > 0 and routes["batch"] == 0
        refused = server.stats_snapshot()["faults"].get("flex_refused", 0) - refused_before
        assert refused > 0 and f"{refused} flex refusals sent realtime" in err
        # upstream: one paid request per row not answered by the cache, plus the refused (unbilled) flex tries
        assert _chat_requests(server) - before == routes["flex"] + routes["realtime"] + refused
        total = sum(r["cost_usd"] for r in rows)
        assert f"= ${total:.6f}" in err and "paid twice  0 rows" in err


def test_a_batch_running_late_is_cancelled_and_its_unfinished_rows_answered_realtime_once(tmp_path: Path) -> None:
    with _emulator(batch_delay_s=30.0) as server:  # the batch would take 30 s; the deadline is 4 s
        _rows(tmp_path, 40)
        late = ("--deadline", "4s", "--batch-window", "3s", "--batch-typical", "1s")
        err = _plan_run(server, tmp_path, *late, "--flex-latency", "30")  # flex could not make it: realtime
        rows = _check_answered_once_and_priced_by_route(tmp_path, 40)
        routes = Counter(r["route"] for r in rows)
        billing = server.app.batches.billing  # type: ignore[union-attr]
        assert billing.openai_batches == 1 and "runs late" in err
        # the lines the batch ran before its cancel are paid once there; only the rest went realtime
        assert routes["batch"] == billing.openai_lines_answered and routes["realtime"] == 40 - routes["batch"]
        assert _chat_requests(server) == routes["realtime"]
        assert "0 rows late" in err and "paid twice  0 rows" in err
        assert f"{40 - routes['batch']} rows moved off a late or cancelled batch (0 to flex" in err


def test_a_late_batch_moves_to_flex_when_flex_still_makes_the_deadline_and_refused_flex_goes_realtime(
    tmp_path: Path,
) -> None:
    with _emulator(batch_delay_s=30.0, flex_refusal_rate=0.2, flex_latency_factor=3.0) as server:
        _rows(tmp_path, 40)
        err = _plan_run(
            server, tmp_path, "--deadline", "8s", "--batch-window", "3s", "--batch-typical", "1s", "-c", "4",
            "--latency", "0.05", "--flex-latency", "0.15", "--flex-refusal", "0.2",
        )  # fmt: skip
        rows = _check_answered_once_and_priced_by_route(tmp_path, 40)
        routes = Counter(r["route"] for r in rows)
        billing = server.app.batches.billing  # type: ignore[union-attr]
        assert billing.openai_batches == 1 and "runs late" in err
        # flex costs what the batch would have: the late rows went there, the refused ones on to realtime
        moved = re.search(r"(\d+) rows moved off a late or cancelled batch \((\d+) to flex", err)
        assert moved and int(moved.group(1)) == 40 - routes["batch"] and int(moved.group(2)) > 0
        refused = server.stats_snapshot()["faults"].get("flex_refused", 0)
        assert routes["flex"] > 0 and routes["flex"] + routes["realtime"] == 40 - routes["batch"]
        assert routes["batch"] == billing.openai_lines_answered
        assert refused > 0 and routes["realtime"] >= refused  # every refusal answered realtime
        # upstream: one paid request per live row, plus the refused (unbilled) flex tries
        assert _chat_requests(server) == routes["flex"] + routes["realtime"] + refused
        assert "0 rows late" in err and "paid twice  0 rows" in err


def test_a_long_deadline_sends_everything_through_the_batch_api_at_half_price(tmp_path: Path) -> None:
    with _emulator(batch_delay_s=0.5) as server:
        _rows(tmp_path, 30, repeats=5)
        err = _plan_run(server, tmp_path, "--deadline", "4s", "--batch-window", "3s", "--batch-typical", "1s")
        rows = _check_answered_once_and_priced_by_route(tmp_path, 30)
        assert Counter(r["route"] for r in rows) == {"batch": 25, "cache": 5}
        assert server.app.batches.billing.openai_lines_answered == 25  # type: ignore[union-attr]
        assert _chat_requests(server) == 0 and "runs late" not in err


def test_killed_while_its_batch_runs_the_rerun_adopts_the_batch_and_pays_nothing_twice(tmp_path: Path) -> None:
    with _emulator(batch_delay_s=3.0) as server:
        _rows(tmp_path, 30)
        args = ("in.jsonl", "-o", "out.jsonl", "--config", str(resume.config_for(server, tmp_path)), "--plan")
        flags = ("--max-tokens", "5", "--poll", "0.2", "--deadline", "60s", "--batch-window", "30s")
        first = resume.batch(tmp_path, *args, *flags)
        billing = server.app.batches.billing  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        while billing.openai_batches == 0 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.communicate()
        assert billing.openai_batches == 1 and (tmp_path / "out.jsonl.plan").exists()
        code, err = resume.finish(resume.batch(tmp_path, *args, *flags))
        assert code == 0, err
        assert "batch (resumed job_" in err and billing.openai_batches == 1  # adopted, not submitted again
        rows = _check_answered_once_and_priced_by_route(tmp_path, 30)
        assert Counter(r["route"] for r in rows) == {"batch": 30}
        assert billing.openai_lines_answered == 30 and _chat_requests(server) == 0
        assert not (tmp_path / "out.jsonl.plan").exists()


def test_a_budget_holds_back_what_it_cannot_pay_and_a_rerun_with_more_finishes(tmp_path: Path) -> None:
    with _emulator() as server:
        _rows(tmp_path, 40)
        err = _plan_run(server, tmp_path, "--deadline", "10s", "--budget", "0.0001", "--flex-refusal", "0")
        assert "rows not sent: their predicted cost would pass --budget" in err
        journal = [json.loads(line) for line in (tmp_path / "out.jsonl.journal").read_text().splitlines()[1:]]
        paid = sum(r["cost_usd"] for r in journal)
        assert 0 < paid <= 0.0001 and len(journal) < 40 and not (tmp_path / "out.jsonl").exists()
        sent = _chat_requests(server)
        assert sent == len(journal)
        _plan_run(server, tmp_path, "--deadline", "10s", "--budget", "1")
        _check_answered_once_and_priced_by_route(tmp_path, 40)
        assert _chat_requests(server) == 40  # the rerun sent only the rows held back


def test_the_predicted_cost_counts_prompt_cache_reads_of_a_long_shared_system_prompt(tmp_path: Path) -> None:
    system = "You label customer reviews for a retailer. " * 160  # about 1,300 tokens, shared by every row
    flags = ("--deadline", "20s", "--system", system, "--flex-refusal", "0", "-c", "4")
    with _emulator() as server:
        _rows(tmp_path, 40)
        config = str(resume.config_for(server, tmp_path))
        plan = subprocess.run(
            [
                *PLAN,
                "in.jsonl",
                "--config",
                config,
                "--json",
                "--template",
                "Classify: {text}",
                "--max-tokens",
                "5",
                *flags,
            ],
            cwd=tmp_path,
            env={**os.environ, "EMU_KEY": "sk-emulator-test"},
            capture_output=True,
            text=True,
        )
        assert plan.returncode == 0, plan.stderr
        _plan_run(server, tmp_path, *flags)
    rows = resume.read_output(tmp_path / "out.jsonl")
    assert sum(r["usage"]["cache_read_tokens"] for r in rows) >= 39 * 1024  # each row after the first
    measured = sum(r["cost_usd"] for r in rows)
    assert abs(measured - json.loads(plan.stdout)["cost_usd"]) / measured < 0.05


def test_killed_mid_run_the_rerun_sends_only_what_the_journal_lacks_and_copies_are_never_sent(tmp_path: Path) -> None:
    with _emulator() as server:  # 0.05 s a request, 4 at a time: about 4 s for the 60 distinct rows
        _rows(tmp_path, 80, repeats=20)
        config = str(resume.config_for(server, tmp_path))
        args = ("in.jsonl", "-o", "out.jsonl", "--config", config, "--plan", "--deadline", "1h")
        flags = ("--template", "Classify: {text}", "--max-tokens", "5", "-c", "4", "--flex-refusal", "0")
        first = resume.batch(tmp_path, *args, *flags, "--flex-latency", "0.05", "--latency", "0.05")
        journal = tmp_path / "out.jsonl.journal"
        deadline = time.monotonic() + 60
        while resume.journal_records(journal) < 15 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.communicate()
        sent_first = _chat_requests(server)
        done = {json.loads(line)["id"] for line in journal.read_text().splitlines()[1:] if line.endswith("}")}
        assert 15 <= len(done) < 80
        texts = {f"r{i}": i for i in range(60)} | {f"again{i}": i for i in range(20)}
        answered_first = {texts[row_id] for row_id in done}  # distinct requests the first run answered
        code, err = resume.finish(resume.batch(tmp_path, *args, *flags))
        assert code == 0, err
        assert "resuming" in err and "paid twice  0 rows" in err
        rows = _check_answered_once_and_priced_by_route(tmp_path, 80)
        assert Counter(r["route"] for r in rows)["cache"] >= 20  # the copies, answered from their first
        # the rerun sent one request per distinct request the journal had no answer for, and nothing else
        assert _chat_requests(server) - sent_first == 60 - len(answered_first)
        assert sent_first <= len(answered_first) + 4  # the first run paid at most its 4 in-flight rows unrecorded
