"""``batch run --mode batch|auto``: run a job through the provider's Batch API at batch prices.

:func:`choose_mode` decides: ``auto`` takes the Batch API when the job's deadline is at least the
provider's completion window (24 h: a batch may take that long) and the model has batch prices;
otherwise it runs in real time, and either way it says what the Batch API saves.

:class:`BatchAPIEngine` is a runner engine like Ray's: it submits every pending row once, writes
the job's id beside the output *before* waiting (so a rerun after a crash resumes polling that
job and never submits, or pays for, the rows again), polls until the job ends, then yields one
journal record per row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from inferopt.errors import InferoptError, PricingError, UnknownModelError
from inferopt.parallel.batch_api import BatchAPI, BatchJobs, JobStore, estimate_batch_savings
from inferopt.parallel.jobs.rows import Row
from inferopt.parallel.jobs.runner import ok_record
from inferopt.types import ChatRequest

BATCH_WINDOW_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class ModeChoice:
    mode: str  # "realtime" | "batch"
    reason: str


def choose_mode(mode: str, deadline_s: float | None, requests: Iterable[ChatRequest], model: str) -> ModeChoice:
    """Which way to run, and a one-line reason with the estimated saving."""
    try:
        savings = estimate_batch_savings(requests, model)
    except (UnknownModelError, PricingError) as exc:
        if mode == "batch":
            raise InferoptError(f"--mode batch needs batch prices for {model!r}: {exc}") from exc
        return ModeChoice("realtime", f"no batch price known for {model!r}; running in real time")
    saving = f"${savings.saved_usd:.4f} ({savings.saved_fraction:.0%}) of an estimated ${savings.realtime_usd:.4f}"
    if mode == "batch":
        return ModeChoice("batch", f"Batch API: saves about {saving}")
    if mode == "realtime":
        return ModeChoice("realtime", f"real time (the Batch API would save about {saving})")
    if deadline_s is not None and deadline_s >= BATCH_WINDOW_S:
        return ModeChoice("batch", f"deadline allows the 24 h batch window: Batch API saves about {saving}")
    why = "no --deadline given" if deadline_s is None else f"deadline {deadline_s / 3600:g} h is under the 24 h window"
    return ModeChoice("realtime", f"{why}: real time (the Batch API would save about {saving})")


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``45m``, ``2h``, ``1d`` or a bare number of seconds."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise InferoptError(f"cannot read duration {text!r}; use e.g. 90s, 45m, 2h or 1d") from None


class BatchAPIEngine:
    def __init__(
        self,
        api: BatchAPI,
        *,
        provider: str,
        model: str,
        marker: Path,
        store: JobStore,
        poll_s: float = 10.0,
        on_status: Callable[[str], None] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jobs = BatchJobs(api, provider_name=provider, store=store)  # a killed submit is adopted on rerun
        self.model = model
        self.marker = marker
        self.store = store
        self.poll_s = poll_s
        self.on_status = on_status
        self._sleep = sleep
        self._clock = clock

    async def results(self, rows: Iterable[Row]) -> AsyncIterator[dict[str, Any]]:
        by_id = {str(row.index): row for row in rows}
        if self.marker.exists():
            job = self.store.load(self.marker.read_text().strip())
            self._say(f"resuming Batch API job {job.id} (not submitted again)")
        else:
            items = [(key, replace(row.request, model=self.model)) for key, row in by_id.items()]
            if not items:
                return
            job = await self.jobs.submit(items)
            self.store.save(job)
            self.marker.write_text(job.id)  # before waiting: a rerun resumes this job instead of paying twice
            self._say(f"submitted Batch API job {job.id} ({len(items)} requests in {len(job.batches)} batch(es))")
        while not (status := await self.jobs.status(job)).finished:
            self._say(f"batch job {job.id}: {status.state}, {status.succeeded + status.failed}/{status.total} done")
            await self._sleep(self.poll_s)
        for result in await self.jobs.results(job):
            row = by_id.get(result.custom_id)
            if row is None:
                continue  # answered by an earlier run of this job
            if result.response is not None:
                yield ok_record(row, result.response)
            else:
                error = result.error
                detail: dict[str, Any] = {
                    "type": f"Batch{(error.kind if error else 'missing').capitalize()}",
                    "message": error.message if error else "no result line",
                }
                if error is not None and error.status is not None:
                    detail["status"] = error.status
                yield {"index": row.index, "id": row.id, "status": "error", "error": detail}
        self.marker.unlink(missing_ok=True)

    def _say(self, message: str) -> None:
        if self.on_status is not None:
            self.on_status(message)
