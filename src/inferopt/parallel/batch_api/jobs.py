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
from inferopt.parallel.batch_api.faults import crash_point
from inferopt.parallel.batch_api.job import (
    BatchAPI,
    BatchItemError,
    BatchItemResult,
    BatchJob,
    JobStatus,
    ProviderBatch,
    ProviderBatchStatus,
)
from inferopt.parallel.batch_api.submit import Ledger, MemoryLedger, advance, check_plan, job_id_for
from inferopt.types import ChatRequest


def new_job_id() -> str:
    return "job_" + os.urandom(6).hex()


class BatchJobs:
    """Jobs on one provider's Batch API, recorded in ``store`` (a ``JobStore``) at every submit step.

    With a store, a submit killed at any point is finished by running it again (same items: same
    job), and ``status``/``cancel``/``results`` adopt what it created; without one the record lives
    in this object only. ``make_id`` gives every submit a new job instead (the same items then pay
    again).
    """

    def __init__(
        self,
        api: BatchAPI,
        *,
        provider_name: str,
        store: Ledger | None = None,
        clock: Callable[[], float] = time.time,
        make_id: Callable[[], str] | None = None,
    ) -> None:
        self.api = api
        self.provider_name = provider_name
        self.store: Ledger = store if store is not None else MemoryLedger()
        self._durable = store is not None
        self._clock = clock
        self._make_id = make_id

    async def submit(self, items: list[tuple[str, ChatRequest]], *, fresh: bool = False) -> BatchJob:
        """Start the provider batches for ``items`` (``(custom_id, request)``, ids unique, one model).

        The job is the one these items already made, if any (``fresh`` makes a new one): its chunks
        with a provider batch are kept, the others adopted or created (see ``submit.py``).
        """
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
        planned = self.api.plan(items)
        make_id = self._make_id or (new_job_id if fresh else None)
        job_id = make_id() if make_id else job_id_for(self.provider_name, self.api.wire, planned)
        job = self.store.find(job_id)
        if job is None:
            chunks = [ProviderBatch("", c.custom_ids, c.digest) for c in planned]
            job = BatchJob(job_id, self.provider_name, self.api.wire, models.pop(), self._clock(), chunks)
            self.store.save(job)  # the plan, before anything is sent
        check_plan(job, planned)
        try:
            return await advance(self.api, job, self.store, planned, self._clock)
        except BaseException:
            if not self._durable:  # nobody could finish this job: stop what it started
                for batch in job.batches:
                    if batch.created:
                        await self.api.cancel(batch.id)
            raise

    async def adopt(self, job: BatchJob) -> BatchJob:
        """Record the provider batches an interrupted submit of ``job`` created; creates none."""
        return job if job.submitted else await advance(self.api, job, self.store)

    async def status(self, job: BatchJob) -> JobStatus:
        await self.adopt(job)
        return JobStatus(job.id, [await self._status(job, b) for b in job.batches])

    async def cancel(self, job: BatchJob) -> JobStatus:
        """Record the cancel, then cancel every provider batch; chunks not yet created never will be."""
        if not job.cancelled:
            job.cancelled = True
            self.store.save(job)
        await self.adopt(job)
        out: list[ProviderBatchStatus] = []
        for index, batch in enumerate(job.batches):
            out.append(_counted(batch, await self.api.cancel(batch.id)) if batch.created else _unsent(job, batch))
            crash_point("during-cancel", index)
        return JobStatus(job.id, out)

    async def results(self, job: BatchJob) -> list[BatchItemResult]:
        """One result per item, in submission order; raises if a provider batch has not finished."""
        await self.adopt(job)
        if not job.submitted and not job.cancelled:
            raise InferoptError(
                f"job {job.id} was not fully submitted ({sum(not b.created for b in job.batches)} of its "
                f"{len(job.batches)} provider batches were never created): run the same `batch submit` again to "
                "finish it, or cancel the job"
            )
        out: list[BatchItemResult] = []
        for batch in job.batches:
            if not batch.created:
                error = BatchItemError("unsubmitted", "not run: the job was cancelled before this part was submitted")
                out += [BatchItemResult(cid, error=error) for cid in batch.custom_ids]
                continue
            status = await self.api.status(batch.id)
            if status.state == "failed":
                error = BatchItemError("failed", f"provider batch {batch.id} failed: {status.detail or 'no detail'}")
                out += [BatchItemResult(cid, error=error) for cid in batch.custom_ids]
                continue
            by_id = {r.custom_id: r for r in await self.api.results(batch.id)}
            missing = BatchItemError("missing", f"provider batch {batch.id} returned no result for this item")
            out += [by_id.get(cid) or BatchItemResult(cid, error=missing) for cid in batch.custom_ids]
        return out

    async def _status(self, job: BatchJob, batch: ProviderBatch) -> ProviderBatchStatus:
        return _counted(batch, await self.api.status(batch.id)) if batch.created else _unsent(job, batch)


def _unsent(job: BatchJob, batch: ProviderBatch) -> ProviderBatchStatus:
    """A chunk with no provider batch: still to submit, or never (its job was cancelled)."""
    n = len(batch.custom_ids)
    index = job.batches.index(batch)
    if job.cancelled:
        return ProviderBatchStatus(f"chunk {index}", "ended", "never submitted (cancelled)", n, 0, n)
    return ProviderBatchStatus(f"chunk {index}", "submitting", "not submitted yet: rerun the submit", n)


def _counted(batch: ProviderBatch, status: ProviderBatchStatus) -> ProviderBatchStatus:
    """A rejected batch reports no counts; all of its items failed."""
    if status.state != "failed":
        return status
    return replace(status, total=len(batch.custom_ids), succeeded=0, failed=len(batch.custom_ids))
