"""The emulator's Anthropic Message Batches, driven by the official ``anthropic`` SDK over loopback HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import pytest

from inferopt.emulator import EmulatorServer
from inferopt.emulator.config import EmulatorBatchLimits

DELAY_S = 600.0
MODEL = "claude-haiku-4-5"


def client_for(server: EmulatorServer, key: str = "sk-ant-batch-test") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.anthropic_base_url, api_key=key, max_retries=0)


def requests(n: int, max_tokens: int = 30) -> list[Any]:
    return [
        {
            "custom_id": f"q-{i}",
            "params": {"model": MODEL, "max_tokens": max_tokens, "messages": [{"role": "user", "content": f"ask {i}"}]},
        }
        for i in range(n)
    ]


def test_message_batch_ends_after_the_delay_with_results_by_custom_id(
    closing: Callable[[Any], Any], server: EmulatorServer, clock: Any
) -> None:
    client = closing(client_for(server))
    batch = client.messages.batches.create(requests=requests(30))
    assert batch.processing_status == "in_progress" and batch.results_url is None
    assert batch.request_counts.processing == 30 and batch.id.startswith("msgbatch_")
    clock.advance(DELAY_S / 2)
    assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
    clock.advance(DELAY_S / 2)
    ended = client.messages.batches.retrieve(batch.id)
    counts = ended.request_counts
    assert ended.processing_status == "ended" and ended.ended_at is not None and ended.results_url
    assert counts.processing == 0 and counts.succeeded + counts.errored == 30 and 3 <= counts.errored <= 15

    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert sorted(results) == sorted(f"q-{i}" for i in range(30))
    succeeded = [r for r in results.values() if r.type == "succeeded"]
    errored = [r for r in results.values() if r.type == "errored"]
    assert (len(succeeded), len(errored)) == (counts.succeeded, counts.errored)
    for result in succeeded:
        assert result.type == "succeeded"
        assert result.message.usage.output_tokens <= 30 and result.message.content[0].type == "text"
    for result in errored:
        assert result.type == "errored"
        assert result.error.type == "error" and result.error.error.type == "api_error"


def test_a_batched_message_matches_the_live_message(
    closing: Callable[[Any], Any], make_server: Callable[..., EmulatorServer], clock: Any
) -> None:
    client = closing(client_for(make_server()))
    batch = client.messages.batches.create(requests=requests(2))
    clock.advance(DELAY_S)
    result = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}["q-1"]
    live = client.messages.create(model=MODEL, max_tokens=30, messages=[{"role": "user", "content": "ask 1"}])
    assert result.type == "succeeded"
    assert result.message.content == live.content
    assert result.message.usage.input_tokens == live.usage.input_tokens


def test_cancel_ends_the_batch_with_unfinished_requests_canceled(
    closing: Callable[[Any], Any], server: EmulatorServer, clock: Any
) -> None:
    client = closing(client_for(server))
    batch = client.messages.batches.create(requests=requests(20))
    clock.advance(DELAY_S / 2)
    canceling = client.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert 0 < ended.request_counts.canceled < 20
    kinds = [r.result.type for r in client.messages.batches.results(batch.id)]
    assert kinds.count("canceled") == ended.request_counts.canceled and len(kinds) == 20


def test_results_before_the_end_and_bad_requests_are_refused(
    closing: Callable[[Any], Any], server: EmulatorServer
) -> None:
    client = closing(client_for(server))
    batch = client.messages.batches.create(requests=requests(1))
    with pytest.raises(anthropic.AnthropicError, match=r"(?i)has it finished processing"):
        client.messages.batches.results(batch.id)
    early = httpx.get(
        f"{server.url}/v1/messages/batches/{batch.id}/results", headers={"x-api-key": "sk-ant-batch-test"}
    )
    assert early.status_code == 400 and "has not ended" in early.json()["error"]["message"]
    with pytest.raises(anthropic.BadRequestError, match="custom_id"):
        client.messages.batches.create(requests=[{**requests(1)[0], "custom_id": "has spaces"}])
    with pytest.raises(anthropic.BadRequestError, match="duplicate"):
        client.messages.batches.create(requests=requests(1) + requests(1))
    with pytest.raises(anthropic.NotFoundError):
        closing(client_for(server, key="sk-ant-other")).messages.batches.retrieve(batch.id)


def test_limits_reject_too_many_requests_and_too_many_bytes(
    closing: Callable[[Any], Any], make_server: Callable[..., EmulatorServer], small_limits: EmulatorBatchLimits
) -> None:
    client = closing(client_for(make_server(batch_limits=small_limits)))
    with pytest.raises(anthropic.BadRequestError, match="at most 5 items"):
        client.messages.batches.create(requests=requests(6))
    big = requests(1)
    big[0]["params"]["messages"][0]["content"] = "x" * 4_000
    with pytest.raises(anthropic.APIStatusError, match="maximum allowed number of bytes") as raised:
        client.messages.batches.create(requests=big)
    assert raised.value.status_code == 413


def test_batches_are_listed_newest_first(closing: Callable[[Any], Any], server: EmulatorServer) -> None:
    client = closing(client_for(server))
    first = client.messages.batches.create(requests=requests(1))
    second = client.messages.batches.create(requests=requests(1))
    assert [b.id for b in client.messages.batches.list(limit=2)][:2] == [second.id, first.id]
