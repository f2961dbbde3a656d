"""The submit protocol: every step recorded before the next, so a killed submit is finished, never repeated.

For each chunk of a job (one provider batch's worth of items), in order:

1. **plan** (once, before anything is sent): the job record lists every chunk's custom ids and
   payload digest, none with a provider batch yet. The job id is derived from what is sent, so
   rerunning the same submit finds the same record.
2. **intent**: the time is recorded before the first upload or create of the chunk.
3. **upload** (OpenAI): the input file is named after the job, chunk and digest; its id is
   recorded. A rerun reuses a recorded file, or finds an unrecorded one by listing files.
4. **create**: the batch carries the job, chunk and digest in its metadata (OpenAI).
5. **record**: the batch id is written to the job record.

A rerun (or ``status``, ``cancel``, ``results``) first looks, for each chunk with an intent but no
batch, for the batch a killed run created (``BatchAPI.find``: listing the provider's batches) and
adopts it. Only a chunk with no batch to adopt is created, and only by a submit of a job not
cancelled. So a crash at any point costs nothing twice: at most, a create whose reply was lost is
adopted instead of repeated.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Protocol

from inferopt.errors import InferoptError
from inferopt.parallel.batch_api.faults import crash_point
from inferopt.parallel.batch_api.job import BatchAPI, BatchJob
from inferopt.parallel.batch_api.split import PlannedChunk


class Ledger(Protocol):
    """Where job records are kept between steps (``JobStore`` on disk, ``MemoryLedger`` in-process)."""

    def save(self, job: BatchJob) -> object: ...

    def find(self, job_id: str) -> BatchJob | None: ...

    def claimed(self) -> set[str]:
        """Every provider batch id some job record holds (never adopted by another chunk)."""
        ...


class MemoryLedger:
    """Job records of one process (a crash forgets them: pass a ``JobStore`` to survive one)."""

    def __init__(self) -> None:
        self._jobs: dict[str, BatchJob] = {}

    def save(self, job: BatchJob) -> None:
        self._jobs[job.id] = job

    def find(self, job_id: str) -> BatchJob | None:
        return self._jobs.get(job_id)

    def claimed(self) -> set[str]:
        return {b.id for job in self._jobs.values() for b in job.batches if b.id}


def job_id_for(provider: str, wire: str, planned: list[PlannedChunk]) -> str:
    """The same requests to the same provider, split the same way, are the same job."""
    digest = hashlib.sha256(f"{provider}\0{wire}\0".encode())
    for chunk in planned:
        digest.update(chunk.payload)
        digest.update(b"\0")
    return "job_" + digest.hexdigest()[:12]


def check_plan(job: BatchJob, planned: list[PlannedChunk]) -> None:
    recorded = [(b.custom_ids, b.digest) for b in job.batches]
    if recorded != [(c.custom_ids, c.digest) for c in planned]:
        raise InferoptError(
            f"job {job.id} was recorded with other chunks than these items make; submit with the same "
            "input, model and --batch-size as before"
        )


async def advance(
    api: BatchAPI,
    job: BatchJob,
    ledger: Ledger,
    planned: list[PlannedChunk] | None = None,
    clock: Callable[[], float] = time.time,
) -> BatchJob:
    """Adopt the provider batch of every chunk that has none yet; with ``planned``, create the rest."""
    for index, chunk in enumerate(job.batches):
        if chunk.created:
            continue
        found = await api.find(job, index, ledger.claimed())
        if found is not None:
            chunk.id = found
            ledger.save(job)
            continue
        if planned is None or job.cancelled:
            continue
        if chunk.intent_at is None:
            chunk.intent_at = clock()
            ledger.save(job)
        crash_point("after-intent", index)

        def uploaded(file_id: str, index: int = index) -> None:
            crash_point("after-upload", index)
            if job.batches[index].file_id != file_id:
                job.batches[index].file_id = file_id
                ledger.save(job)

        batch_id = await api.create(job, index, planned[index], uploaded)
        crash_point("after-create", index)
        chunk.id = batch_id
        ledger.save(job)
        crash_point("after-record", index)
    return job
