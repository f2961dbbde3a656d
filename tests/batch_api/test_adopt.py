"""Recognising a job's provider batches after a crash, and the listing and metadata the emulator serves for it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from inferopt.emulator import EmulatorServer
from inferopt.parallel.batch_api import AnthropicBatch, BatchJob, BatchJobs, BatchLimits, JobStore, OpenAIBatch
from inferopt.parallel.batch_api.job import ProviderBatch
from inferopt.providers.base import Provider
from inferopt.types import ChatRequest

DELAY_S = 600.0


def items(n: int, model: str, prefix: str = "item") -> list[tuple[str, ChatRequest]]:
    return [(f"{prefix}-{i}", ChatRequest.of(f"Classify review {i}", model=model, max_tokens=20)) for i in range(n)]


def billed(server: EmulatorServer) -> dict[str, int]:
    assert server.app is not None
    return server.app.batches.billing.snapshot()


def planned_job(api: Any, job_id: str, batch_items: list[tuple[str, ChatRequest]]) -> tuple[BatchJob, Any]:
    """A job record as a killed submit leaves it: planned, intent recorded, no batch id."""
    (chunk,) = api.plan(batch_items)
    record = ProviderBatch("", chunk.custom_ids, chunk.digest, intent_at=time.time())
    return BatchJob(job_id, "p", api.wire, batch_items[0][1].model, time.time(), [record]), chunk


async def test_the_same_items_are_the_same_job_and_are_paid_once(server: EmulatorServer, tmp_path: Any) -> None:
    api = OpenAIBatch(Provider("openai", server.openai_base_url, api_key="sk-adopt"), BatchLimits(4, 100_000))
    store = JobStore(tmp_path)
    try:
        first = await BatchJobs(api, provider_name="openai", store=store).submit(items(6, "gpt-4o-mini"))
        second = await BatchJobs(api, provider_name="openai", store=store).submit(items(6, "gpt-4o-mini"))
        assert second == first and billed(server)["openai_batches"] == 2
        fresh = await BatchJobs(api, provider_name="openai", store=store).submit(items(6, "gpt-4o-mini"), fresh=True)
    finally:
        await api.aclose()
    assert fresh.id != first.id and billed(server)["openai_requests"] == 12
    assert store.load(first.id) == first and store.claimed() == {b.id for b in first.batches + fresh.batches}


async def test_openai_adopts_only_the_batch_whose_metadata_names_the_chunk(server: EmulatorServer) -> None:
    api = OpenAIBatch(Provider("openai", server.openai_base_url, api_key="sk-adopt"))
    try:
        job, chunk = planned_job(api, "job_aaaaaaaaaaaa", items(3, "gpt-4o-mini"))
        other, other_chunk = planned_job(api, "job_bbbbbbbbbbbb", items(3, "gpt-4o-mini"))
        await api.create(other, 0, other_chunk, lambda file_id: None)  # another job's, same requests
        assert await api.find(job, 0, set()) is None
        ours = await api.create(job, 0, chunk, lambda file_id: None)
        assert await api.find(job, 0, set()) == ours
        assert await api.find(job, 0, {ours}) is None  # already recorded by some job
    finally:
        await api.aclose()


async def test_anthropic_recognises_its_batch_by_time_size_and_finished_custom_ids(
    server: EmulatorServer, clock: Any
) -> None:
    api = AnthropicBatch(Provider("anthropic", server.anthropic_base_url, api_key="sk-ant-adopt"))
    try:
        job, chunk = planned_job(api, "job_cccccccccccc", items(3, "claude-haiku-4-5"))
        assert await api.find(job, 0, set()) is None
        _, foreign = planned_job(api, "job_dddddddddddd", items(3, "claude-haiku-4-5", prefix="foreign"))
        stranger = await api.create(job, 0, foreign, lambda file_id: None)  # same size, someone else's
        _, smaller = planned_job(api, "job_eeeeeeeeeeee", items(2, "claude-haiku-4-5"))
        await api.create(job, 0, smaller, lambda file_id: None)
        clock.advance(DELAY_S)  # the stranger has ended: its results name other custom ids
        ours = await api.create(job, 0, chunk, lambda file_id: None)
        assert await api.find(job, 0, set()) == ours
        assert await api.find(job, 0, {ours}) is None and stranger != ours
    finally:
        await api.aclose()


def test_openai_metadata_is_kept_and_held_to_the_api_rules(server: EmulatorServer, openai_lines: Any) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-meta", max_retries=0) as client:
        uploaded = client.files.create(file=("in.jsonl", openai_lines(1)), purpose="batch")
        tag = {"inferopt_job": "job_1", "inferopt_chunk": "0"}
        args = {"input_file_id": uploaded.id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
        batch = client.batches.create(**args, metadata=tag)  # type: ignore[arg-type]
        assert client.batches.retrieve(batch.id).metadata == tag
        assert [b.metadata for b in client.batches.list(limit=1).data] == [tag]
        with pytest.raises(openai.BadRequestError, match="at most 16"):
            client.batches.create(**args, metadata={f"k{i}": "v" for i in range(17)})  # type: ignore[arg-type]
        with pytest.raises(openai.BadRequestError, match="512"):
            client.batches.create(**args, metadata={"k": "v" * 513})  # type: ignore[arg-type]
    assert billed(server)["openai_batches"] == 1


def test_files_are_listed_in_pages_newest_first(server: EmulatorServer, openai_lines: Any) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-files", max_retries=0) as client:
        ids = [client.files.create(file=(f"f{i}.jsonl", openai_lines(1)), purpose="batch").id for i in range(3)]
        listed = [f.id for f in client.files.list(purpose="batch", limit=2)]  # the SDK follows the pages
    assert listed == ids[::-1]
    page = httpx.get(
        f"{server.openai_base_url}/files",
        params={"limit": 2, "order": "asc"},
        headers={"authorization": "Bearer sk-files"},
    ).json()
    assert [f["id"] for f in page["data"]] == ids[:2] and page["has_more"] and page["last_id"] == ids[1]
