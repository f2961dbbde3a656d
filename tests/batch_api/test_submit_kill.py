"""``batch submit|status|results|cancel`` killed at each step of the submit protocol, then run again.

Each test runs the CLI as a user does (a subprocess) against an emulator over loopback HTTP, stops
it at a named point (``INFEROPT_BATCH_FAULT``: ``exit`` is ``os._exit``, what ``kill -9`` leaves;
``hold`` waits there for the test's real SIGKILL or SIGTERM), reruns it, and counts what the
emulator billed: every chunk is one provider batch, whatever was killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from inferopt.emulator import EmulatorServer
from inferopt.emulator.batches.billing import BatchBilling

DELAY_S = 600.0
N, BATCH_SIZE, CHUNKS = 10, 4, 3  # chunks of 4, 4 and 2 requests
MODELS = {"openai": "oa/gpt-4o-mini", "anthropic": "claude/claude-haiku-4-5", "gemini": "gm/gemini-2.5-flash"}


@pytest.fixture
def server(make_server: Any) -> EmulatorServer:
    return make_server()


@pytest.fixture
def folder(server: EmulatorServer, tmp_path: Path) -> Path:
    (tmp_path / "inferopt.yaml").write_text(
        "providers:\n"
        f"  oa: {{kind: openai, base_url: '{server.openai_base_url}', api_key_env: EMU_BATCH_KEY}}\n"
        f"  claude: {{kind: anthropic, base_url: '{server.anthropic_base_url}', api_key_env: EMU_BATCH_KEY}}\n"
        f"  gm: {{kind: gemini, base_url: '{server.url}', api_key_env: EMU_BATCH_KEY}}\n"
        "default_model: oa/gpt-4o-mini\n",
        encoding="utf-8",
    )
    rows = [{"id": f"rev-{i}", "text": f"The product number {i} was fine."} for i in range(N)]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return tmp_path


def start(folder: Path, *args: str, fault: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "EMU_BATCH_KEY": "sk-emu-kill-test"}
    env.pop("INFEROPT_BATCH_FAULT", None)
    if fault:
        env["INFEROPT_BATCH_FAULT"] = fault
    command = [sys.executable, "-m", "inferopt", "batch", *args, "--config", "inferopt.yaml"]
    return subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(folder: Path, *args: str, fault: str | None = None) -> tuple[int, str, str]:
    process = start(folder, *args, fault=fault)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def submit_args(wire: str) -> tuple[str, ...]:
    return ("submit", "rows.jsonl", "-m", MODELS[wire], "--template", "Classify: {text}", "--batch-size", "4")


def billing(server: EmulatorServer) -> BatchBilling:
    assert server.app is not None
    return server.app.batches.billing


def billed(server: EmulatorServer, wire: str) -> tuple[int, int]:
    """(provider batches created, requests in them) on ``wire``."""
    bill = billing(server)
    if wire == "anthropic":
        return bill.anthropic_batches, bill.anthropic_requests
    if wire == "gemini":
        return bill.gemini_batches, bill.gemini_requests
    return bill.openai_batches, bill.openai_requests


def job_record(folder: Path) -> dict[str, Any]:
    (path,) = (folder / ".inferopt" / "batches").glob("job_*.json")
    return json.loads(path.read_text())


def kill_while_holding(folder: Path, args: tuple[str, ...], point: str, sig: int = signal.SIGKILL) -> int:
    """Run until the process holds at ``point``, then send it ``sig``; its exit code."""
    process = start(folder, *args, fault=f"hold:{point}")
    assert process.stderr is not None
    for line in process.stderr:
        if "holding at" in line:
            break
    else:
        raise AssertionError(f"never reached {point}: {process.communicate()}")
    process.send_signal(sig)
    process.communicate(timeout=30)
    return process.returncode


POINTS = [
    ("openai", "after-intent"),
    ("openai", "after-upload"),
    ("openai", "after-create"),
    ("openai", "after-record"),
    ("anthropic", "after-intent"),
    ("anthropic", "after-create"),
    ("anthropic", "after-record"),
    ("gemini", "after-intent"),
    ("gemini", "after-create"),
    ("gemini", "after-record"),
]


@pytest.mark.parametrize(("wire", "point"), POINTS)
def test_a_submit_killed_at_any_step_is_finished_by_a_rerun_without_a_second_batch(
    folder: Path, server: EmulatorServer, clock: Any, wire: str, point: str
) -> None:
    code, _, err = run(folder, *submit_args(wire), fault=f"exit:{point}@1")  # the middle chunk
    assert code == 137, err
    code, out, err = run(folder, *submit_args(wire))
    assert code == 0, err
    assert "resumed that job" in err
    assert billed(server, wire) == (CHUNKS, N)
    if wire == "openai":
        assert billing(server).files_uploaded == CHUNKS  # an orphan input file is found and reused
    again = run(folder, *submit_args(wire))
    assert again[0] == 0 and again[1] == out and billed(server, wire) == (CHUNKS, N)

    clock.advance(DELAY_S)
    job_id = out.strip()
    code, _, err = run(folder, "results", job_id, "-o", "out.jsonl")
    assert code == 0, err
    lines = [json.loads(line) for line in (folder / "out.jsonl").read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == [f"rev-{i}" for i in range(N)]
    assert all(line["ok"] for line in lines)


@pytest.mark.parametrize("wire", ["openai", "anthropic", "gemini"])
def test_a_real_sigkill_after_create_before_the_record_is_adopted(
    folder: Path, server: EmulatorServer, wire: str
) -> None:
    assert kill_while_holding(folder, submit_args(wire), "after-create@0") == -signal.SIGKILL
    assert billed(server, wire) == (1, BATCH_SIZE)
    assert not job_record(folder)["batches"][0]["id"]  # the store never heard of the batch
    code, _, err = run(folder, *submit_args(wire))
    assert code == 0, err
    assert billed(server, wire) == (CHUNKS, N)
    assert all(b["id"] for b in job_record(folder)["batches"])


def test_sigterm_while_uploading_reuses_the_uploaded_file(folder: Path, server: EmulatorServer) -> None:
    assert kill_while_holding(folder, submit_args("openai"), "after-upload@2", signal.SIGTERM) == -signal.SIGTERM
    assert billed(server, "openai") == (2, 2 * BATCH_SIZE) and billing(server).files_uploaded == 3
    assert run(folder, *submit_args("openai"))[0] == 0
    assert billed(server, "openai") == (CHUNKS, N) and billing(server).files_uploaded == CHUNKS


def test_status_adopts_what_a_killed_submit_created_and_shows_the_rest_unsubmitted(
    folder: Path, server: EmulatorServer
) -> None:
    run(folder, *submit_args("anthropic"), fault="exit:after-create@1")
    job_id = job_record(folder)["id"]
    code, out, err = run(folder, "status", job_id)
    assert code == 0, err
    assert "submitting" in out and out.count("not submitted yet") == 1
    assert [bool(b["id"]) for b in job_record(folder)["batches"]] == [True, True, False]
    early = run(folder, "results", job_id, "-o", "out.jsonl")
    assert early[0] == 1 and "not fully submitted" in early[2]
    assert run(folder, *submit_args("anthropic"))[0] == 0
    assert billed(server, "anthropic") == (CHUNKS, N)


def test_cancel_after_a_killed_submit_cancels_the_adopted_batch_and_creates_no_more(
    folder: Path, server: EmulatorServer, clock: Any
) -> None:
    run(folder, *submit_args("openai"), fault="exit:after-create@1")
    job_id = job_record(folder)["id"]
    code, out, err = run(folder, "cancel", job_id, fault="exit:during-cancel@0")  # killed while cancelling
    assert code == 137 and job_record(folder)["cancelled"] is True
    code, out, err = run(folder, "cancel", job_id)
    assert code == 0, err
    assert out.count("cancelling") == 2 and "never submitted (cancelled)" in out
    code, _, err = run(folder, *submit_args("openai"))
    assert code == 0 and "cancelled" in err
    assert billed(server, "openai") == (2, 2 * BATCH_SIZE)
    clock.advance(DELAY_S)
    assert run(folder, "results", job_id, "-o", "out.jsonl")[0] == 0
    kinds = [json.loads(line).get("error", {}).get("kind") for line in (folder / "out.jsonl").read_text().splitlines()]
    assert kinds[8:] == ["unsubmitted", "unsubmitted"] and kinds[:8].count("canceled") == 8


def test_results_killed_while_writing_leave_no_half_output_and_a_rerun_completes(
    folder: Path, server: EmulatorServer, clock: Any
) -> None:
    job_id = run(folder, *submit_args("openai"))[1].strip()
    clock.advance(DELAY_S)
    code, _, _ = run(folder, "results", job_id, "-o", "out.jsonl", fault="exit:during-fetch")
    assert code == 137 and not (folder / "out.jsonl").exists() and (folder / "out.jsonl.partial").exists()
    code, _, err = run(folder, "results", job_id, "-o", "out.jsonl")
    assert code == 0, err
    assert len((folder / "out.jsonl").read_text().splitlines()) == N
    assert billed(server, "openai") == (CHUNKS, N)


@pytest.mark.parametrize(
    ("wire", "point"), [("openai", "after-upload"), ("openai", "after-create"), ("gemini", "after-create")]
)
def test_batch_run_killed_while_submitting_is_adopted_by_its_rerun(
    folder: Path, server: EmulatorServer, clock: Any, wire: str, point: str
) -> None:
    # `batch run --mode batch`, not only `batch submit`: the rerun finds the provider batch the killed
    # run created (or the file it uploaded) and waits for it instead of paying for a second one.
    args = ("run", "rows.jsonl", "-o", "out.jsonl", "--mode", "batch", "-m", MODELS[wire], "--template", "Say: {text}")
    code, _, err = run(folder, *args, "--poll", "0.05", fault=f"exit:{point}")
    assert code == 137, err
    process = start(folder, *args, "--poll", "0.05")
    for _ in range(200):  # the batch completes DELAY_S after its creation, on the test's clock
        clock.advance(DELAY_S)
        try:
            _, err = process.communicate(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            continue
    assert process.returncode == 0, err
    assert billed(server, wire) == (1, N)
    assert billing(server).files_uploaded == (1 if wire == "openai" else 0)
    lines = [json.loads(line) for line in (folder / "out.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [f"rev-{i}" for i in range(N)] and all(x["status"] == "ok" for x in lines)
