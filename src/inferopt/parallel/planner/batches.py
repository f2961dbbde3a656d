"""The Batch API share of a planned job: submitted once, watched, moved to flex or realtime when it runs late.

The job (one or more provider batches, split over the provider's limits by ``BatchJobs``) is
recorded in the run's :class:`PlanState` under the id it will have *before* it is submitted, and
``BatchJobs`` records its own plan before sending anything, so a run killed at any point adopts
the same provider batches on its rerun instead of paying for the rows again.

While it runs, every poll asks whether it is late: whether its finish, predicted from its progress
(the provider's window while it shows none), passes the deadline at a moment when the rows it has
not answered could still be answered live by the deadline: on flex (the batch's half price) while
flex can make it, else realtime. A late job is cancelled; once the provider has ended it, its
answered rows are kept and the rest (cancelled, errored, never run) go to the live pool, which
sends them on flex as far as the time left allows and the rest realtime (``PlanEngine``). A
provider that takes longer than ``cancel_grace_s`` to end a cancelled batch gets its rows sent
live anyway; a row that the batch then answers too is written once and its second cost counted
(``PlanRun.paid_twice``), never hidden.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from inferopt.parallel.batch_api import BatchJob, BatchJobs, JobStatus
from inferopt.parallel.batch_api.submit import job_id_for
from inferopt.parallel.jobs.rows import Row
from inferopt.parallel.planner.budget import Budget
from inferopt.parallel.planner.live import Emit

Move = Callable[[list[Row]], Awaitable[None]]
Way = tuple[float, float]  # a live way's rows a second and one request's latency (seconds)


class BatchShare:
    def __init__(
        self,
        jobs: BatchJobs,
        *,
        model: str,
        budget: Budget,
        deadline_s: float,
        live: Way,
        window_s: float,
        flex: Way = (0.0, 0.0),
        clock: Callable[[], float],
        epoch: float,
        poll_s: float = 10.0,
        cancel_grace_s: float = 600.0,
        safety: float = 0.9,
        on_status: Callable[[str], None] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.jobs = jobs
        self.model = model
        self.budget = budget
        self.deadline_s = deadline_s
        self.live = live
        self.flex = flex  # rate 0: the model has no flex tier
        self.window_s = window_s
        self.clock = clock  # seconds since the job started (across runs)
        self.epoch = epoch  # the Unix time it started
        self.poll_s = poll_s
        self.cancel_grace_s = cancel_grace_s
        self.safety = safety
        self.on_status = on_status
        self._sleep = sleep
        self.predicted_finish_s: float | None = None
        self.moved = 0  # rows moved to the live pool (late, cancelled, errored)
        self.held: list[Row] = []  # not submitted: the budget would not allow them
        self.cancelled = False

    def job_id(self, rows: list[Row]) -> str:
        """The id the job of ``rows`` will have (a digest of its content), known before submitting."""
        return job_id_for(self.jobs.provider_name, self.jobs.api.wire, self.jobs.api.plan(self._items(rows)))

    def _items(self, rows: list[Row]) -> list[tuple[str, Any]]:
        return [(row.key, replace(row.request, model=self.model)) for row in rows]

    def affordable(self, rows: list[Row], price: Callable[[Row], float]) -> tuple[list[Row], float]:
        """The rows whose predicted cost the budget can hold (held there now), and that amount."""
        kept: list[Row] = []
        reserved = 0.0
        for row in rows:
            usd = price(row)
            if self.budget.reserve(usd):
                kept.append(row)
                reserved += usd
            else:
                self.held.append(row)
        return kept, reserved

    async def run(self, rows: list[Row], job: BatchJob | None, reserved: float, emit: Emit, move: Move) -> None:
        """Submit ``rows`` (unless ``job`` already holds them), watch, and hand every outcome on."""
        by_key = {row.key: row for row in rows}
        if job is None or not job.submitted:
            job = await self.jobs.submit(self._items(rows))
            self._say(f"batch       submitted {job.id}: {len(rows)} rows in {len(job.batches)} provider batch(es)")
        else:
            self._say(f"batch       resuming {job.id} ({len(rows)} rows; not submitted again)")
        self.cancelled = job.cancelled
        since = job.created_at - self.epoch  # when the job was submitted, on the clock
        cancelled_at: float | None = self.clock() if job.cancelled else None
        sent_live: set[str] = set()
        while not (status := await self.jobs.status(job)).finished:
            now = self.clock()
            self.predicted_finish_s = self._predicted(status, since, now)
            if not job.cancelled and self._late(status, now):
                left = status.total - status.succeeded - status.failed
                self._say(
                    f"batch       {job.id} runs late (predicted {self.predicted_finish_s:.0f}s, deadline "
                    f"{self.deadline_s:.0f}s): cancelling it; its {left} unanswered rows go live"
                )
                await self.jobs.cancel(job)
                self.cancelled, cancelled_at = True, now
                continue
            if cancelled_at is not None and now - cancelled_at > self.cancel_grace_s and not sent_live:
                sent_live = set(by_key)  # the provider is slow to end it: answer its rows live now
                self.moved += len(sent_live)
                await move(list(by_key.values()))
            await self._sleep(self.poll_s)
        cost = 0.0
        unanswered: list[Row] = []
        for result in await self.jobs.results(job):
            row = by_key.get(result.custom_id)
            if row is None:
                continue  # answered by an earlier run of this job
            if result.response is not None:
                cost += result.response.cost_usd or 0.0
                emit(row, "batch", result.response)
            elif row.key not in sent_live:
                unanswered.append(row)
        self.budget.settle(reserved, cost)
        self.predicted_finish_s = None
        if unanswered:
            self.moved += len(unanswered)
            self._say(f"batch       {job.id} ended; {len(unanswered)} rows it did not answer go live")
            await move(unanswered)

    def _predicted(self, status: JobStatus, since: float, now: float) -> float:
        done = (status.succeeded + status.failed) / status.total if status.total else 1.0
        if done <= 0:
            return since + self.window_s
        return since + (now - since) / done

    def _late(self, status: JobStatus, now: float) -> bool:
        """Its predicted finish passes the deadline, and this is the last moment a live way, faster than
        the batch, can still answer its rows by the deadline: flex (the batch's price) while it can,
        else realtime. So a batch is given every moment it can be, and never cancelled for a slower way."""
        predicted = self.predicted_finish_s or 0.0
        if predicted <= self.deadline_s:
            return False
        left = status.total - status.succeeded - status.failed
        for rate, latency_s in (self.flex, self.live):
            live_s = max(left / rate, latency_s) if rate > 0 else float("inf")
            if now + live_s < predicted and now + live_s + 2 * self.poll_s >= self.deadline_s * self.safety:
                return True
        return False

    def _say(self, line: str) -> None:
        if self.on_status is not None:
            self.on_status(line)
