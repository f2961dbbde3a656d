"""``batch submit|status|results|cancel`` end to end: CLI -> our client -> emulator over loopback HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from inferopt.cli.batch_api import add_batch_api_commands
from inferopt.emulator import EmulatorServer

DELAY_S = 600.0


@click.group()
def batch() -> None:
    """The ``batch`` group as the lead's ``cli/batch.py`` builds it."""


add_batch_api_commands(batch)


@pytest.fixture
def config_file(server: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EMU_BATCH_KEY", "sk-emu-batch-cli")
    path = tmp_path / "inferopt.yaml"
    path.write_text(
        "providers:\n"
        f"  oa: {{kind: openai, base_url: '{server.openai_base_url}', api_key_env: EMU_BATCH_KEY}}\n"
        f"  claude: {{kind: anthropic, base_url: '{server.anthropic_base_url}', api_key_env: EMU_BATCH_KEY}}\n"
        "default_model: oa/gpt-4o-mini\n",
        encoding="utf-8",
    )
    return path


def rows_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "reviews.jsonl"
    reviews = [
        {"id": f"rev-{i}", "text": f"The product number {i} was {'great' if i % 2 else 'awful'}."} for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in reviews), encoding="utf-8")
    return path


def invoke(*args: str | Path) -> Any:
    result = CliRunner().invoke(batch, [str(a) for a in args])
    return result


def test_submit_status_results_over_the_openai_batch_api(config_file: Path, tmp_path: Path, clock: Any) -> None:
    rows = rows_file(tmp_path, 12)
    submitted = invoke(
        "submit", rows, "--config", config_file, "--template", "Classify sentiment: {text}", "--system",
        "Answer positive, negative or neutral.", "--max-tokens", "5",
    )  # fmt: skip
    assert submitted.exit_code == 0, submitted.output
    job_id = submitted.stdout.strip()
    assert job_id.startswith("job_") and (tmp_path / ".inferopt" / "batches" / f"{job_id}.json").is_file()
    assert "12 requests in 1 openai batch(es)" in submitted.stderr and "at batch prices" in submitted.stderr

    pending = invoke("status", job_id, "--config", config_file)
    assert pending.exit_code == 0 and "in_progress" in pending.stdout
    early = invoke("results", job_id, "-o", tmp_path / "out.jsonl", "--config", config_file)
    assert early.exit_code == 1 and "has not finished" in early.output

    clock.advance(DELAY_S)
    done = invoke("status", job_id, "--config", config_file)
    assert "ended" in done.stdout and "12/12 done" in done.stdout
    fetched = invoke("results", job_id, "-o", tmp_path / "out.jsonl", "--config", config_file)
    assert fetched.exit_code == 0, fetched.output
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == [f"rev-{i}" for i in range(12)]
    failed = [line["custom_id"] for line in lines if not line["ok"]]
    assert failed and f"errored: {len(failed)} ({', '.join(failed)})" in fetched.stderr
    answered = [line for line in lines if line["ok"]]
    assert all(0 < line["usage"]["output_tokens"] <= 5 and line["cost_usd"] > 0 for line in answered)
    assert "saved $" in fetched.stderr


def test_split_and_cancel_over_the_anthropic_message_batches(config_file: Path, tmp_path: Path, clock: Any) -> None:
    rows = rows_file(tmp_path, 10)
    submitted = invoke("submit", rows, "-m", "claude/claude-haiku-4-5", "--batch-size", "4", "--config", config_file)
    assert submitted.exit_code == 0, submitted.output
    job_id = submitted.stdout.strip()
    assert "10 requests in 3 anthropic batch(es)" in submitted.stderr
    clock.advance(DELAY_S / 2)
    cancelled = invoke("cancel", job_id, "--config", config_file)
    assert cancelled.exit_code == 0 and cancelled.stdout.count("canceling") == 3
    assert "ended" in invoke("status", job_id, "--config", config_file).stdout
    fetched = invoke("results", job_id, "-o", tmp_path / "out.jsonl", "--config", config_file)
    assert fetched.exit_code == 0 and "canceled:" in fetched.stderr
    kinds = [
        json.loads(line).get("error", {}).get("kind") for line in (tmp_path / "out.jsonl").read_text().splitlines()
    ]
    assert len(kinds) == 10 and "canceled" in kinds and None in kinds


def test_malformed_lines_are_reported_by_number_and_nothing_is_sent(
    config_file: Path, tmp_path: Path, server: EmulatorServer
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "fine"}\n{oops\n\n{"id": "b"}\n', encoding="utf-8")
    result = invoke("submit", path, "--config", config_file)
    assert result.exit_code == 1
    assert "2 malformed line(s)" in result.output and "line 2" in result.output and "line 4" in result.output
    assert server.stats.by_route["/v1/files"] == 0


def test_the_in_process_emulator_is_refused_with_the_way_out(tmp_path: Path) -> None:
    result = invoke("submit", rows_file(tmp_path, 1))
    assert result.exit_code == 1 and "inferopt emulate" in result.output


def test_an_unknown_job_names_the_folder_searched(config_file: Path) -> None:
    result = invoke("status", "job_000000000000", "--config", config_file)
    assert result.exit_code == 1 and "no batch job 'job_000000000000'" in result.output


def test_status_wait_polls_until_the_job_has_ended(
    make_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real clock this time: the batch ends 0.3 s after it is created, while `status --wait` polls.
    server = make_server(clock=time.monotonic, batch_delay_s=0.3)
    monkeypatch.setenv("EMU_BATCH_KEY", "sk-emu-batch-cli")
    config = tmp_path / "wait.yaml"
    config.write_text(
        f"providers:\n  oa: {{kind: openai, base_url: '{server.openai_base_url}', api_key_env: EMU_BATCH_KEY}}\n",
        encoding="utf-8",
    )
    job_id = invoke("submit", rows_file(tmp_path, 3), "-m", "gpt-4o-mini", "--config", config).stdout.strip()
    waited = invoke("status", job_id, "--wait", "--interval", "0.05", "--config", config)
    assert waited.exit_code == 0 and "in_progress" in waited.stderr and "ended · 3/3 done" in waited.stdout
