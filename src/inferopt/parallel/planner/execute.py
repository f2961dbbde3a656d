"""``batch run --plan``: execute a job's plan over the cache, realtime, flex and a provider Batch API.

:class:`PlanEngine` is a runner engine (``BatchRunner(engine=...)``), so the journal, the row
identities, resuming after ``kill -9`` and the output in input order are the runner's, unchanged.
The runner hands it the rows still to answer, as an iterable it may read more than once (each read
parses the input again), and it keeps no row in memory longer than it must:

1. a first pass (``scan.py``) gives each row a state in a :class:`RowTable` (14 bytes a row):
   a **copy** of an earlier row's request (answered by that row's answer, written as a cache hit at
   $0, never sent; ``repeats.py`` keeps what that takes on disk), **resumed** (held by a Batch API
   job an earlier run submitted), **cache** (``--cache`` holds it: it goes through the client, whose
   cache layer answers it) or **pending**;
2. the pending rows are planned with the time left to the deadline (``allocate_table``);
3. a second pass sends each row its way: flex, realtime and cache rows into the :class:`LivePool`
   (which takes rows only as fast as its workers do), batch rows into a :class:`BatchShare`. A late
   batch's unanswered rows move to flex as far as the time left allows and the rest to realtime;
   refused flex rows move to realtime;
4. one journal record per row (``route`` says how it was answered), and progress: rows done, cost
   so far, the predicted finish.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace
from typing import Any

from inferopt.client import AsyncClient
from inferopt.parallel.batch_api import BatchAPI, BatchJob, BatchJobs, JobStore
from inferopt.parallel.jobs.records import error_record, ok_record
from inferopt.parallel.jobs.rows import Row
from inferopt.parallel.planner.allocate import Capacity, allocate_table, flex_rows
from inferopt.parallel.planner.batches import BatchShare
from inferopt.parallel.planner.budget import Budget
from inferopt.parallel.planner.live import LivePool, Outcome
from inferopt.parallel.planner.model import PlannedJob
from inferopt.parallel.planner.predict import Estimator, Rates
from inferopt.parallel.planner.probe import CacheProbe
from inferopt.parallel.planner.repeats import Copy, Repeats
from inferopt.parallel.planner.row_table import CACHE, COPY, PENDING, RESUMED, RowTable
from inferopt.parallel.planner.run_tally import PlanRun
from inferopt.parallel.planner.scan import scan_rows
from inferopt.parallel.planner.state import PlanState
from inferopt.types import ChatResponse


class PlanEngine:
    identifies_records = True  # every record names its row: the runner need not hold the rows it hands on

    def __init__(
        self,
        client: AsyncClient,
        *,
        model: str,
        capacity: Capacity,
        deadline_s: float,
        state: PlanState,
        budget_usd: float | None = None,
        earlier_cost_usd: float = 0.0,
        batch_api: BatchAPI | None = None,
        provider: str = "",
        store: JobStore | None = None,
        cache_url: str | None = None,
        cache_policy: str = "all",
        poll_s: float = 10.0,
        cancel_grace_s: float = 600.0,
        on_status: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.model = model
        self.capacity = capacity
        self.deadline_s = deadline_s
        self.state = state
        self.budget = Budget(budget_usd, spent_usd=earlier_cost_usd)
        self.rates = Rates.for_model(model, client.catalog)
        if batch_api is None:  # e.g. the built-in emulator, which would not outlive a batch
            self.rates = replace(self.rates, batch=False)
        self.batch_api = batch_api
        self.provider = provider
        self.store = store or JobStore()
        self.cache_url = cache_url
        self.cache_policy = cache_policy
        self.poll_s = poll_s
        self.cancel_grace_s = cancel_grace_s
        self.on_status = on_status
        self._clock = clock
        self.plan: PlannedJob | None = None
        self.tally = PlanRun(deadline_s=deadline_s)
        self.table = RowTable()
        self._repeats: Repeats | None = None
        self._estimator = Estimator(model, answer_tokens=capacity.answer_tokens, prompt_cache=self.rates.prompt_cache)
        self._live_rate = self._flex_rate = 0.0
        self.earlier: Iterable[dict[str, Any]] = ()  # the records of rows earlier runs answered (the runner's)
        self._records: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def elapsed(self) -> float:
        """Seconds since the job started (its first run)."""
        return self._clock() - self.state.started_at

    async def results(self, rows: Iterable[Row]) -> AsyncIterator[dict[str, Any]]:
        fresh_job = not self.state.path.exists()
        jobs = [job for job in map(self.store.find, self.state.job_ids) if job is not None]  # None: never sent
        held = {custom_id: n for n, job in enumerate(jobs) for custom_id in job.custom_ids}
        probe = CacheProbe(self.cache_url, self.model, self.cache_policy) if self.cache_url else None
        scan = await scan_rows(rows, self._estimator, probe, held, self.earlier)  # the first pass
        self.table, self._repeats = scan.table, scan.repeats
        try:
            self.tally.total = scan.rows
            if not scan.rows:
                return
            if fresh_job:  # the deadline counts from the first run's first request, not its tokenizer load
                self.state.started_at = self._clock()
            self.state.job_ids = [job.id for n, job in enumerate(jobs) if scan.resumed[n]]
            self.state.save()
            remaining = self.deadline_s if fresh_job else self.deadline_s - self.elapsed()
            self.plan = allocate_table(self.table, self.rates, self.capacity, remaining, self.budget.limit_usd)
            self._rates_live()
            self._say(self._plan_line(jobs, scan.resumed))
            async for record in self._execute(rows, jobs, held):
                yield record
        finally:
            scan.repeats.close()

    async def _execute(
        self, rows: Iterable[Row], jobs: list[BatchJob], held: dict[str, int]
    ) -> AsyncIterator[dict[str, Any]]:
        pool = LivePool(
            self.client, concurrency=self.capacity.concurrency, budget=self.budget, price=self._price, emit=self.emit
        )
        tasks = [asyncio.ensure_future(self._drive(pool, rows, jobs, held))]
        tasks.append(asyncio.ensure_future(self._report(pool)))
        try:
            while (record := await self._records.get()) is not None:
                yield record
            await tasks[0]  # re-raises what stopped it
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.tally.held = len(pool.held)
        self.tally.flex_refused = pool.flex_refused
        if not self.tally.held:
            self.state.remove()

    async def _drive(self, pool: LivePool, rows: Iterable[Row], jobs: list[BatchJob], held: dict[str, int]) -> None:
        """Run the live pool, the second pass and every batch share until all are done, then end the records."""

        async def send_then_close() -> None:
            to_batch, parts = await self._send(pool, rows, len(jobs), held)
            shares: list[Any] = []
            if to_batch and self.batch_api is not None:
                share = self._share()
                kept, reserved = share.affordable(to_batch, lambda row: self._price(row, "batch"))
                pool.held.extend(share.held)
                if kept:
                    self.state.job_ids.append(share.job_id(kept))
                    self.state.save()  # before submitting: a rerun adopts this job, never pays twice
                    shares.append(share.run(kept, None, reserved, self.emit, self._mover(pool)))
            for job, part in zip(jobs, parts, strict=True):
                if part:
                    shares.append(self._share().run(part, job, 0.0, self.emit, self._mover(pool)))
            await asyncio.gather(*shares)
            await pool.close()

        try:
            await asyncio.gather(pool.run(), send_then_close())
        finally:
            self._records.put_nowait(None)

    async def _send(
        self, pool: LivePool, rows: Iterable[Row], n_jobs: int, held: dict[str, int]
    ) -> tuple[list[Row], list[list[Row]]]:
        """The second pass: live rows into the pool as it takes them; the batch and resumed rows, returned."""
        assert self.plan is not None
        to_batch: list[Row] = []
        parts: list[list[Row]] = [[] for _ in range(n_jobs)]
        by_batch = self.plan.rows("batch") > 0
        flex_left = self.plan.rows("flex")
        for row in rows:
            state = self.table.state(row.index)
            if state == COPY:
                self._copy(row)
            elif state == RESUMED:
                parts[held[row.key]].append(row)
            elif state == CACHE:
                await pool.put([row], "cache")
            elif state == PENDING and by_batch:
                to_batch.append(row)
            elif state == PENDING:
                await pool.put([row], "flex" if flex_left > 0 else "realtime")
                flex_left -= 1
        return to_batch, parts

    def _mover(self, pool: LivePool) -> Callable[[list[Row]], Any]:
        """Rows off a late or ended batch: on flex as far as the time left allows, the rest realtime."""

        async def move(rows: list[Row]) -> None:
            queued_s = pool.waiting / self._live_rate if self._live_rate > 0 else 0.0
            left_s = self.deadline_s * self.capacity.safety - self.elapsed() - queued_s
            n_flex = 0
            if self.rates.flex and self._flex_rate > 0 and left_s > 0:
                n_flex = flex_rows(len(rows), self._live_rate, self._flex_rate, left_s, self.capacity.flex_latency_s)
            self.tally.moved += len(rows)
            self.tally.moved_to_flex += n_flex
            await pool.put(rows[n_flex:], "realtime", front=True)
            await pool.put(rows[:n_flex], "flex", front=True)

        return move

    def _rates_live(self) -> None:
        """Rows a second realtime and on flex (refusals taken off), for the average row of this run."""
        usage = self.table.usage(PENDING)[0] + self.table.usage(RESUMED)[0]
        rows = self.table.count(PENDING, RESUMED)
        tokens = usage.total_tokens / rows if rows else 0.0
        self._live_rate = self.capacity.rows_per_s(tokens, self.capacity.latency_s)
        if self.rates.flex:
            flex = self.capacity.rows_per_s(tokens, self.capacity.flex_latency_s)
            self._flex_rate = flex * (1 - self.capacity.flex_refusal)

    def _share(self) -> BatchShare:
        assert self.batch_api is not None
        share = BatchShare(
            BatchJobs(self.batch_api, provider_name=self.provider, store=self.store),
            model=self.model,
            budget=self.budget,
            deadline_s=self.deadline_s,
            live=(self._live_rate, self.capacity.latency_s),
            flex=(self._flex_rate, self.capacity.flex_latency_s),
            window_s=self.capacity.batch_window_s,
            clock=self.elapsed,
            epoch=self.state.started_at,
            poll_s=self.poll_s,
            cancel_grace_s=self.cancel_grace_s,
            safety=self.capacity.safety,
            on_status=self.on_status,
        )
        self.tally.shares.append(share)
        return share

    def _price(self, row: Row, route: str) -> float:
        estimate = self.table.estimate(row.index) or self._estimator.estimate(row.index, row.request)
        return self.rates.cost(estimate.usage_on(route), route)

    def emit(self, row: Row, route: str, outcome: Outcome) -> None:
        """Record one row's outcome (and its copies'); a second answer for a row is counted, not written."""
        if isinstance(outcome, ChatResponse):
            if outcome.cache in ("hit", "semantic_hit"):
                route = "cache"
            if not self.tally.answer(row.index, route, outcome.cost_usd or 0.0, self.elapsed()):
                return
            record = ok_record(row, outcome)
        else:
            record = error_record(row, outcome)
        record["route"] = route
        self._records.put_nowait(record)
        if self.table.repeated(row.index) and self._repeats is not None:
            for copy in self._repeats.answered(row.request_key, record):
                self._emit_copy(record, copy)

    def _copy(self, row: Row) -> None:
        """A copy read in the second pass: written now if its first copy has its answer, else when it comes."""
        assert self._repeats is not None
        copy = (row.index, row.id, row.key)
        record = self._repeats.answer_of(row.request_key)
        if record is None:
            self._repeats.wait(row.request_key, copy)
        else:
            self._emit_copy(record, copy)

    def _emit_copy(self, record: dict[str, Any], copy: Copy) -> None:
        index, row_id, key = copy  # the same request: request_key and asked are the first copy's
        repeat = {**record, "index": index, "id": row_id, "row_key": key, "route": "cache"}
        if record["status"] == "ok":
            repeat.update(cost_usd=0.0, latency_s=0.0, cache="hit", cache_saved_usd=record["cost_usd"] or 0.0)
            self.tally.answer(index, "cache", 0.0, self.elapsed())
        self._records.put_nowait(repeat)

    async def _report(self, pool: LivePool) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.poll_s))
            self._say(self.tally.progress(self.elapsed(), pool.waiting, self._live_rate))

    def _plan_line(self, jobs: list[BatchJob], resumed: Counter[int]) -> str:
        assert self.plan is not None
        parts = [f"cache {self.table.count(CACHE)}"] if self.table.count(CACHE) else []
        parts += [f"{route} {n}" for route in ("flex", "realtime", "batch") if (n := self.plan.rows(route))]
        parts += [f"batch (resumed {job.id}) {resumed[n]}" for n, job in enumerate(jobs) if resumed[n]]
        return (
            f"plan        {', '.join(parts) or 'nothing to send'}; {self.table.count(COPY)} repeats answered from "
            f"their first copy; predicted ${self.plan.cost_usd:.4f}, finish {self.plan.finish_s + self.elapsed():.0f}s "
            f"of the {self.deadline_s:.0f}s deadline"
        )

    def _say(self, line: str) -> None:
        if self.on_status is not None:
            self.on_status(line)
