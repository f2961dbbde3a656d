"""A provider-neutral Batch API job: submit items, poll, collect results in input order, cancel.

::

    api = OpenAIBatch(Provider("openai", "https://api.openai.com/v1", api_key=key))
    jobs = BatchJobs(api, provider_name="openai")
    job = await jobs.submit([("q1", ChatRequest.of("Hi", model="gpt-4o-mini"))])
    while not (await jobs.status(job)).finished:
        await asyncio.sleep(60)
    for item in await jobs.results(job):   # one per item, in submission order
        print(item.custom_id, item.response.content if item.ok else item.error)

A job may span several provider batches (see ``split.py``); ``status`` sums them and
``results`` merges them, so callers never see the split.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace

from inferopt.errors import InferoptError
from inferopt.parallel.batch_api.job import (
    BatchAPI,
    BatchItemError,
    BatchItemResult,
    BatchJob,
    JobStatus,
    ProviderBatch,
    ProviderBatchStatus,
)
from inferopt.types import ChatRequest


def new_job_id() -> str:
    return "job_" + os.urandom(6).hex()


class BatchJobs:
    """Jobs on one provider's Batch API."""

    def __init__(
        self,
        api: BatchAPI,
        *,
        provider_name: str,
        clock: Callable[[], float] = time.time,
        make_id: Callable[[], str] = new_job_id,
    ) -> None:
        self.api = api
        self.provider_name = provider_name
        self._clock = clock
        self._make_id = make_id

    async def submit(self, items: list[tuple[str, ChatRequest]]) -> BatchJob:
        """Start the provider batches for ``items`` (``(custom_id, request)``, ids unique, one model)."""
        if not items:
            raise InferoptError("nothing to submit: the job has no items")
        seen: set[str] = set()
        for custom_id, _ in items:
            if custom_id in seen:
                raise InferoptError(f"custom_id {custom_id!r} appears more than once; each item needs its own id")
            seen.add(custom_id)
        models = {request.model for _, request in items}
        if len(models) != 1:
            raise InferoptError(f"a Batch API job serves one model; these items ask for {sorted(models)}")
        batches = await self.api.submit(items)
        return BatchJob(self._make_id(), self.provider_name, self.api.wire, models.pop(), self._clock(), batches)

    async def status(self, job: BatchJob) -> JobStatus:
        return JobStatus(job.id, [_counted(b, await self.api.status(b.id)) for b in job.batches])

    async def cancel(self, job: BatchJob) -> JobStatus:
        return JobStatus(job.id, [_counted(b, await self.api.cancel(b.id)) for b in job.batches])

    async def results(self, job: BatchJob) -> list[BatchItemResult]:
        """One result per item, in submission order; raises if a provider batch has not finished."""
        out: list[BatchItemResult] = []
        for batch in job.batches:
            status = await self.api.status(batch.id)
            if status.state == "failed":
                error = BatchItemError("failed", f"provider batch {batch.id} failed: {status.detail or 'no detail'}")
                out += [BatchItemResult(cid, error=error) for cid in batch.custom_ids]
                continue
            by_id = {r.custom_id: r for r in await self.api.results(batch.id)}
            missing = BatchItemError("missing", f"provider batch {batch.id} returned no result for this item")
            out += [by_id.get(cid) or BatchItemResult(cid, error=missing) for cid in batch.custom_ids]
        return out


def _counted(batch: ProviderBatch, status: ProviderBatchStatus) -> ProviderBatchStatus:
    """A rejected batch reports no counts; all of its items failed."""
    if status.state != "failed":
        return status
    return replace(status, total=len(batch.custom_ids), succeeded=0, failed=len(batch.custom_ids))
