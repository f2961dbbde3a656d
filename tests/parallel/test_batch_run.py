"""``inferopt batch run`` as a user runs it: a subprocess against an emulator over real HTTP."""

import json
from collections.abc import Iterator
from pathlib import Path

import benchmark_resume as resume  # loaded by conftest.py from benchmarks/parallel/resume.py
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, FaultConfig, ProfileOverrides

write_rows, config_for, batch, finish, read_output = (
    resume.write_rows,
    resume.config_for,
    resume.batch,
    resume.finish,
    resume.read_output,
)


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=3, overrides=ProfileOverrides(fixed_latency_s=0.05))) as running:
        yield running


def test_rows_answered_in_input_order_with_bad_lines_reported(server: EmulatorServer, tmp_path: Path) -> None:
    write_rows(tmp_path / "in.jsonl", 30, bad_lines={5: "{broken", 12: "[1, 2]", 20: '{"id": "x", "nothing": 1}'})
    code, err = finish(
        batch(
            tmp_path,
            "in.jsonl",
            "-o",
            "out.jsonl",
            "--template",
            "Classify: {text}",
            "--config",
            str(config_for(server, tmp_path)),
            "-c",
            "8",
        )
    )
    assert code == 0, err
    rows = read_output(tmp_path / "out.jsonl")
    assert len(rows) == 33 and [r["index"] for r in rows] == list(range(33))
    assert [r["id"] for r in rows if r["status"] == "ok"] == [f"r{i}" for i in range(30)]
    problems = [json.loads(x) for x in (tmp_path / "out.errors.jsonl").read_text().splitlines()]
    assert [p["line"] for p in problems] == [6, 13, 21]
    assert "not valid JSON" in problems[0]["error"] and "'messages'" in problems[2]["error"]
    assert "30 answered now" in err and "3 invalid input lines" in err and "speed-up" in err
    assert server.stats.requests_total == 30


def test_kill_9_then_rerun_finishes_without_repeating_answers(tmp_path: Path) -> None:
    n, concurrency = 120, 8
    slow = EmulatorConfig(seed=5, overrides=ProfileOverrides(fixed_latency_s=0.1))
    with EmulatorServer(slow) as server:
        run = resume.kill_and_resume(server, tmp_path, n, concurrency)
    assert 0 < run.recorded_at_kill < n, "the kill should land mid-job"
    assert "resuming" in run.rerun_stderr
    assert [r["id"] for r in run.output_rows] == [f"r{i}" for i in range(n)]
    assert all(r["status"] == "ok" for r in run.output_rows) and not run.journal_left
    # Every item was sent once, except at most the ones in flight when the first run died.
    assert n <= run.emulator_requests <= run.bound == n + concurrency


def test_changed_input_refuses_to_mix_jobs(server: EmulatorServer, tmp_path: Path) -> None:
    cfg = str(config_for(server, tmp_path))
    write_rows(tmp_path / "in.jsonl", 5)
    (tmp_path / "out.jsonl.journal").write_text('{"inferopt_journal": 1, "input_sha256": "other", "spec": {}}\n')
    code, err = finish(batch(tmp_path, "in.jsonl", "-o", "out.jsonl", "--config", cfg))
    assert code == 1 and "belongs to a different job" in err and "--restart" in err
    code, err = finish(batch(tmp_path, "in.jsonl", "-o", "out.jsonl", "--config", cfg, "--restart"))
    assert code == 0, err


def test_faults_end_with_every_item_answered_or_failed_with_cause(tmp_path: Path) -> None:
    faults = FaultConfig(error_rate=0.2, rate_limit_rate=0.05, rate_limit_burst_s=0.2, drop_rate=0.1)
    noisy = EmulatorConfig(seed=11, overrides=ProfileOverrides(fixed_latency_s=0.01), faults=faults)
    with EmulatorServer(noisy) as server:
        write_rows(tmp_path / "in.jsonl", 60)
        code, err = finish(
            batch(
                tmp_path,
                "in.jsonl",
                "-o",
                "out.jsonl",
                "--config",
                str(config_for(server, tmp_path)),
                "-c",
                "16",
                "--max-attempts",
                "2",
            )
        )
        assert code == 0, err
        assert server.stats.errors > 0  # the faults really happened
    rows = read_output(tmp_path / "out.jsonl")
    assert len(rows) == 60
    for row in rows:
        assert row["status"] == "ok" or (row["status"] == "error" and row["error"]["type"].endswith("Error"))
    assert "retries" in err


def test_hung_requests_time_out_and_end_answered_or_failed_with_cause(tmp_path: Path) -> None:
    # A provider that never answers some requests: each attempt times out after timeout_s, is retried,
    # and the item ends answered or recorded as a timeout; the job never hangs with it.
    faults = FaultConfig(hang_rate=0.4, hang_s=30.0)
    hanging = EmulatorConfig(seed=5, overrides=ProfileOverrides(fixed_latency_s=0.01), faults=faults)
    with EmulatorServer(hanging) as server:
        write_rows(tmp_path / "in.jsonl", 60)
        cfg = tmp_path / "inferopt.yaml"
        cfg.write_text(
            "providers:\n"
            f"  emu: {{kind: openai, base_url: '{server.openai_base_url}', api_key_env: EMU_KEY, timeout_s: 0.5}}\n"
            "default_model: emu/gpt-4o-mini\n"
        )
        code, err = finish(
            batch(tmp_path, "in.jsonl", "-o", "out.jsonl", "--config", str(cfg), "-c", "16", "--max-attempts", "2"),
            timeout_s=60,
        )
        assert code == 0, err
    rows = read_output(tmp_path / "out.jsonl")
    assert len(rows) == 60
    failed = [row for row in rows if row["status"] != "ok"]
    answered = [row for row in rows if row["status"] == "ok"]
    assert answered, "with 40% of attempts hanging most items still get an answer on retry"
    assert failed, "with two attempts at 40% hangs, some items fail both"
    assert all(row["status"] == "error" and "Timeout" in row["error"]["type"] for row in failed), failed


def test_ray_engine_runs_shards_and_merges_in_order(server: EmulatorServer, tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray not installed (pip install 'inferopt[ray]')")
    write_rows(tmp_path / "in.jsonl", 40, bad_lines={7: "{oops"})
    cfg = str(config_for(server, tmp_path))
    code, err = finish(
        batch(
            tmp_path,
            "in.jsonl",
            "-o",
            "out.jsonl",
            "--config",
            cfg,
            "--engine",
            "ray",
            "--workers",
            "2",
            "--chunk-size",
            "10",
            "-c",
            "4",
        )
    )
    assert code == 0, err
    rows = read_output(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows if r["status"] == "ok"] == [f"r{i}" for i in range(40)]
    assert rows[7]["status"] == "invalid" and server.stats.requests_total == 40
    assert "engine      ray: 4 tasks" in err


def test_ray_engine_with_limits_needs_shared_redis(tmp_path: Path) -> None:
    write_rows(tmp_path / "in.jsonl", 2)
    code, err = finish(batch(tmp_path, "in.jsonl", "-o", "out.jsonl", "--engine", "ray", "--rpm", "60"))
    assert code == 2 and "--limits-redis" in err


def test_mode_batch_runs_through_the_batch_api_at_half_price(tmp_path: Path) -> None:
    quick = EmulatorConfig(seed=2, overrides=ProfileOverrides(fixed_latency_s=0.0), batch_delay_s=0.3)
    with EmulatorServer(quick) as server:
        write_rows(tmp_path / "in.jsonl", 12)
        args = ("in.jsonl", "-o", "out.jsonl", "--config", str(config_for(server, tmp_path)), "--max-tokens", "5")
        code, err = finish(batch(tmp_path, *args, "--mode", "auto", "--deadline", "2d", "--poll", "0.1"))
        assert code == 0, err
        assert "mode        batch: deadline allows the 24 h batch window: Batch API saves about" in err
        assert server.stats.by_route["/v1/chat/completions"] == 0  # no realtime calls: all went by batch
        batch_rows = read_output(tmp_path / "out.jsonl")
        assert [r["id"] for r in batch_rows] == [f"r{i}" for i in range(12)]
        assert all(r["status"] == "ok" for r in batch_rows)
        code, err = finish(batch(tmp_path, *args, "-o", "live.jsonl", "--mode", "auto", "--deadline", "2h"))
        assert code == 0, err
        assert "deadline 2 h is under the 24 h window" in err
        live_rows = read_output(tmp_path / "live.jsonl")
    for at_batch, live in zip(batch_rows, live_rows, strict=True):
        assert at_batch["answer"] == live["answer"]  # same emulated model, same answer
        assert at_batch["cost_usd"] == pytest.approx(live["cost_usd"] / 2)  # at batch prices


def test_cache_flag_answers_a_rerun_from_the_cache(server: EmulatorServer, tmp_path: Path) -> None:
    write_rows(tmp_path / "in.jsonl", 10)
    common = (
        "in.jsonl",
        "--config",
        str(config_for(server, tmp_path)),
        "--temperature",
        "0",
        "--cache",
        f"sqlite:///{tmp_path / 'cache.db'}",
    )
    assert finish(batch(tmp_path, *common, "-o", "first.jsonl"))[0] == 0
    code, err = finish(batch(tmp_path, *common, "-o", "second.jsonl"))
    assert code == 0, err
    assert server.stats.requests_total == 10  # the second run sent nothing upstream
    assert all(r["cost_usd"] == 0.0 for r in read_output(tmp_path / "second.jsonl"))


def test_job_deadline_stops_starting_items_and_a_rerun_finishes(tmp_path: Path) -> None:
    slow = EmulatorConfig(seed=4, overrides=ProfileOverrides(fixed_latency_s=0.2))
    with EmulatorServer(slow) as server:
        write_rows(tmp_path / "in.jsonl", 40)
        args = ("in.jsonl", "-o", "out.jsonl", "--config", str(config_for(server, tmp_path)), "-c", "2")
        code, err = finish(batch(tmp_path, *args, "--deadline", "1s"))
        assert code == 0, err
        assert "deadline    reached:" in err and not (tmp_path / "out.jsonl").exists()
        first_run = server.stats.requests_total
        assert 0 < first_run < 40
        code, err = finish(batch(tmp_path, *args))
        assert code == 0, err
        assert [r["id"] for r in read_output(tmp_path / "out.jsonl")] == [f"r{i}" for i in range(40)]
        assert server.stats.requests_total == 40  # nothing answered before the deadline was sent again


def test_ray_engine_honours_the_job_deadline_and_a_rerun_finishes(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray not installed (pip install 'inferopt[ray]')")
    slow = EmulatorConfig(seed=5, overrides=ProfileOverrides(fixed_latency_s=0.4))
    with EmulatorServer(slow) as server:
        write_rows(tmp_path / "in.jsonl", 60)
        args = ("in.jsonl", "-o", "out.jsonl", "--config", str(config_for(server, tmp_path)))
        # One worker answering one row at a time: 2 s per chunk of 5, 24 s for the job. The deadline
        # counts from the job's start, Ray's start-up (~7 s here) included.
        one_at_a_time = ("--engine", "ray", "--workers", "1", "--chunk-size", "5", "-c", "1")
        code, err = finish(batch(tmp_path, *args, *one_at_a_time, "--deadline", "15s"))
        assert code == 0, err
        assert "deadline    reached:" in err and not (tmp_path / "out.jsonl").exists()
        first_run = server.stats.requests_total
        assert 0 < first_run < 60 and first_run % 5 == 0  # whole chunks: started ones finished
        code, err = finish(batch(tmp_path, *args, "-c", "20"))  # one journal: the local engine finishes it
        assert code == 0, err
        assert [r["id"] for r in read_output(tmp_path / "out.jsonl")] == [f"r{i}" for i in range(60)]
        assert server.stats.requests_total == 60  # nothing answered before the deadline was sent again
