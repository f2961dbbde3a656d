"""The emulator's OpenAI Files + Batch API, driven by the official ``openai`` SDK over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest

from inferopt.emulator import EmulatorServer
from inferopt.emulator.config import EmulatorBatchLimits

DELAY_S = 600.0


def client_for(server: EmulatorServer, key: str = "sk-batch-test") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.openai_base_url, api_key=key, max_retries=0)


def start(client: openai.OpenAI, data: bytes) -> Any:
    uploaded = client.files.create(file=("input.jsonl", data), purpose="batch")
    return client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h", metadata={"job": "t"}
    )


def lines_of(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines() if line.strip()]


def test_batch_completes_after_the_delay_with_answers_and_errors_matched_by_custom_id(
    closing: Callable[[Any], Any], server: EmulatorServer, clock: Any, openai_lines: Callable[..., bytes]
) -> None:
    client = closing(client_for(server))
    uploaded = client.files.create(file=("input.jsonl", openai_lines(40)), purpose="batch")
    assert (uploaded.purpose, uploaded.filename, uploaded.bytes) == ("batch", "input.jsonl", len(openai_lines(40)))
    assert client.files.retrieve(uploaded.id).id == uploaded.id
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.status == "validating"
    assert batch.request_counts is not None and batch.request_counts.total == 40

    clock.advance(DELAY_S / 2)
    halfway = client.batches.retrieve(batch.id)
    assert halfway.status == "in_progress" and halfway.output_file_id is None
    assert halfway.request_counts is not None
    assert 0 < halfway.request_counts.completed + halfway.request_counts.failed < 40

    clock.advance(DELAY_S / 2)
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.completed_at is not None and done.finalizing_at is not None
    assert done.request_counts is not None
    output, errors = lines_of(client, done.output_file_id), lines_of(client, done.error_file_id)
    assert done.request_counts.completed == len(output) and done.request_counts.failed == len(errors)
    assert 4 <= len(errors) <= 20  # batch_error_rate 0.3 of 40 lines, seeded
    assert sorted(line["custom_id"] for line in output + errors) == sorted(f"r{i}" for i in range(40))
    for line in output:
        assert line["error"] is None and line["response"]["status_code"] == 200
        assert line["response"]["request_id"].startswith("req_")
        body = line["response"]["body"]
        assert body["object"] == "chat.completion" and body["usage"]["completion_tokens"] <= 30
    for line in errors:
        assert line["response"]["status_code"] == 500
        assert line["response"]["body"]["error"]["type"] == "server_error"
    assert done.usage is not None
    assert done.usage.output_tokens == sum(line["response"]["body"]["usage"]["completion_tokens"] for line in output)


def test_a_batch_answer_is_the_answer_the_live_endpoint_gives(
    closing: Callable[[Any], Any],
    make_server: Callable[..., EmulatorServer],
    clock: Any,
    openai_lines: Callable[..., bytes],
) -> None:
    server = make_server()
    client = closing(client_for(server))
    batch = start(client, openai_lines(3))
    clock.advance(DELAY_S)
    output = {
        line["custom_id"]: line["response"]["body"]
        for line in lines_of(client, client.batches.retrieve(batch.id).output_file_id)
    }
    live = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "question 2"}], max_tokens=30
    )
    assert output["r2"]["choices"][0]["message"]["content"] == live.choices[0].message.content
    assert live.usage is not None
    assert output["r2"]["usage"]["prompt_tokens"] == live.usage.prompt_tokens
    assert output["r2"]["usage"]["completion_tokens"] == live.usage.completion_tokens


def test_cancel_keeps_finished_answers_and_reports_the_rest_as_cancelled(
    closing: Callable[[Any], Any], server: EmulatorServer, clock: Any, openai_lines: Callable[..., bytes]
) -> None:
    client = closing(client_for(server))
    batch = start(client, openai_lines(20))
    clock.advance(DELAY_S / 4)
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    clock.advance(DELAY_S)
    cancelled = client.batches.retrieve(batch.id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    output, errors = lines_of(client, cancelled.output_file_id), lines_of(client, cancelled.error_file_id)
    not_run = [line for line in errors if line["response"] is None]
    assert not_run and all(line["error"]["code"] == "batch_cancelled" for line in not_run)
    assert 0 < len(output) < 20 and len(output) + len(errors) == 20
    with pytest.raises(openai.ConflictError, match="cancelled"):
        client.batches.cancel(batch.id)


def test_invalid_input_lines_fail_the_batch_with_line_numbers(
    closing: Callable[[Any], Any], server: EmulatorServer
) -> None:
    client = closing(client_for(server))
    good = {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
    }
    data = "\n".join(
        [
            json.dumps(good),
            "{not json",
            json.dumps(good),
            json.dumps({**good, "custom_id": "b", "url": "/v1/embeddings"}),
        ]
    ).encode()
    batch = start(client, data)
    failed = client.batches.retrieve(batch.id)
    assert failed.status == "failed" and failed.failed_at is not None and failed.errors is not None
    found = {(e.code, e.line) for e in failed.errors.data or []}
    assert found == {("invalid_json_line", 2), ("duplicate_custom_id", 3), ("url_mismatch", 4)}


def test_limits_reject_too_many_requests_and_too_large_files(
    closing: Callable[[Any], Any],
    make_server: Callable[..., EmulatorServer],
    small_limits: EmulatorBatchLimits,
    openai_lines: Callable[..., bytes],
) -> None:
    client = closing(client_for(make_server(batch_limits=small_limits)))
    too_many = client.batches.retrieve(start(client, openai_lines(6, max_tokens=1)).id)
    assert too_many.status == "failed" and too_many.errors is not None
    assert [e.code for e in too_many.errors.data or []] == ["too_many_tasks"]
    with pytest.raises(openai.BadRequestError, match="File is too large"):
        client.files.create(file=("big.jsonl", openai_lines(5) + b" " * 2_000), purpose="batch")


def test_a_delay_past_the_24h_window_expires_the_unfinished_lines(
    closing: Callable[[Any], Any],
    make_server: Callable[..., EmulatorServer],
    clock: Any,
    openai_lines: Callable[..., bytes],
) -> None:
    client = closing(client_for(make_server(batch_delay_s=48 * 3600.0)))
    batch = start(client, openai_lines(10))
    clock.advance(24 * 3600.0)
    expired = client.batches.retrieve(batch.id)
    assert expired.status == "expired" and expired.expired_at is not None
    errors = lines_of(client, expired.error_file_id)
    assert {line["error"]["code"] for line in errors} == {"batch_expired"}
    assert len(errors) + len(lines_of(client, expired.output_file_id)) == 10


def test_batches_are_listed_newest_first_and_private_to_their_key(
    closing: Callable[[Any], Any], server: EmulatorServer, openai_lines: Callable[..., bytes]
) -> None:
    client = closing(client_for(server))
    first, second = start(client, openai_lines(1)), start(client, openai_lines(1))
    assert [b.id for b in client.batches.list(limit=2).data] == [second.id, first.id]
    stranger = closing(client_for(server, key="sk-someone-else"))
    with pytest.raises(openai.NotFoundError):
        stranger.batches.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        stranger.files.content(first.input_file_id)
    with pytest.raises(openai.BadRequestError, match="endpoint"):
        client.batches.create(input_file_id=first.input_file_id, endpoint="/v1/completions", completion_window="24h")
