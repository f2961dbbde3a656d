"""``batch run --plan``: execute a job's plan over the cache, realtime, flex and a provider Batch API.

:class:`PlanEngine` is a runner engine (``BatchRunner(engine=...)``), so the journal, the row
identities, resuming after ``kill -9`` and the output in input order are the runner's, unchanged.
The runner hands it the rows still to answer; it

1. folds repeats: a row asking what an earlier row asks is answered by that row's answer (written
   as a cache hit, cost 0), never sent;
2. looks the rest up in ``--cache`` before anything is sent: hits go through the client, whose
   cache layer answers them (no upstream request);
3. plans the rest with the time left to the deadline (``allocate``) and sends each share its way:
   a provider batch (:class:`BatchShare`), flex and realtime (:class:`LivePool`); a late batch and
   refused flex rows move to realtime while the job runs;
4. yields one journal record per row (``route`` says how it was answered) and reports progress:
   rows done, cost so far, the predicted finish.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace
from typing import Any

from inferopt.client import AsyncClient
from inferopt.parallel.batch_api import BatchAPI, BatchJob, BatchJobs, JobStore
from inferopt.parallel.jobs.records import error_record, identify, ok_record
from inferopt.parallel.jobs.rows import Row
from inferopt.parallel.planner.allocate import Capacity, allocate
from inferopt.parallel.planner.batches import BatchShare
from inferopt.parallel.planner.budget import Budget
from inferopt.parallel.planner.live import LivePool, Outcome
from inferopt.parallel.planner.model import PlannedJob
from inferopt.parallel.planner.predict import Rates, RowEstimate, estimate_rows
from inferopt.parallel.planner.probe import cached_rows
from inferopt.parallel.planner.run_tally import PlanRun
from inferopt.parallel.planner.state import PlanState
from inferopt.types import ChatResponse


class PlanEngine:
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
        self._estimates: dict[str, RowEstimate] = {}
        self._copies: dict[str, list[Row]] = {}
        self._records: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def elapsed(self) -> float:
        """Seconds since the job started (its first run)."""
        return self._clock() - self.state.started_at

    async def results(self, rows: Iterable[Row]) -> AsyncIterator[dict[str, Any]]:
        unique = self._fold_repeats(list(rows))
        self.tally.total = len(unique) + sum(len(c) for c in self._copies.values())
        if not unique:
            return
        fresh_job = not self.state.path.exists()
        resumed, fresh = self._resumed_batches(unique)
        estimates = estimate_rows(
            ((i, row.request) for i, row in enumerate(fresh)),
            self.model,
            answer_tokens=self.capacity.answer_tokens,
            prompt_cache=self.rates.prompt_cache,
        )
        for row, estimate in zip(fresh, estimates, strict=True):
            self._estimates[row.key] = estimate
        hits: set[int] = set()
        if self.cache_url:
            pairs = [(i, row.request) for i, row in enumerate(fresh)]
            hits = await cached_rows(self.cache_url, pairs, self.model, self.cache_policy)
        if fresh_job:  # the deadline counts from the first run's first request, not its tokenizer load
            self.state.started_at = self._clock()
        self.state.save()
        remaining = self.deadline_s if fresh_job else self.deadline_s - self.elapsed()
        self.plan = allocate(estimates, hits, self.rates, self.capacity, remaining, self.budget.limit_usd)
        routes = {route: [fresh[i] for i in indexes] for route, indexes in self.plan.rows_by_route.items()}
        self._say(self._plan_line(routes, resumed))
        pool = LivePool(
            self.client, concurrency=self.capacity.concurrency, budget=self.budget, price=self._price, emit=self.emit
        )
        for route in ("flex", "realtime", "cache"):
            await pool.put(routes.get(route, []), route)
        tasks = [asyncio.ensure_future(self._drive(pool, resumed, routes.get("batch", [])))]
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

    async def _drive(self, pool: LivePool, resumed: list[tuple[BatchJob, list[Row]]], to_batch: list[Row]) -> None:
        """Run the live pool and every batch share until all are done, then end the record stream."""
        try:
            shares: list[Any] = []
            if to_batch and self.batch_api is not None:
                share = self._share()
                kept, reserved = share.affordable(to_batch, lambda row: self._price(row, "batch"))
                pool.held.extend(share.held)
                if kept:
                    self.state.job_ids.append(share.job_id(kept))
                    self.state.save()  # before submitting: a rerun adopts this job, never pays twice
                    shares.append(share.run(kept, None, reserved, self.emit, self._mover(pool)))
            for job, part in resumed:
                share = self._share()
                shares.append(share.run(part, job, 0.0, self.emit, self._mover(pool)))

            async def batches_then_close() -> None:
                await asyncio.gather(*shares)
                await pool.close()

            await asyncio.gather(pool.run(), batches_then_close())
        finally:
            self._records.put_nowait(None)

    def _mover(self, pool: LivePool) -> Callable[[list[Row]], Any]:
        async def move(rows: list[Row]) -> None:
            self.tally.moved += len(rows)
            await pool.put(rows, "realtime")

        return move

    def _share(self) -> BatchShare:
        assert self.batch_api is not None
        tokens = [e.input_tokens + e.output_tokens for e in self._estimates.values()]
        live = self.capacity.rows_per_s(sum(tokens) / len(tokens) if tokens else 0.0, self.capacity.latency_s)
        share = BatchShare(
            BatchJobs(self.batch_api, provider_name=self.provider, store=self.store),
            model=self.model,
            budget=self.budget,
            deadline_s=self.deadline_s,
            live_rows_per_s=live,
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

    def _fold_repeats(self, rows: list[Row]) -> list[Row]:
        first: dict[str, Row] = {}
        for row in rows:
            if row.request_key in first:
                self._copies.setdefault(row.request_key, []).append(row)
            else:
                first[row.request_key] = row
        return list(first.values())

    def _resumed_batches(self, rows: list[Row]) -> tuple[list[tuple[BatchJob, list[Row]]], list[Row]]:
        """Rows held by the Batch API jobs an earlier run submitted (adopted, not sent again), and the rest."""
        by_key = {row.key: row for row in rows}
        resumed: list[tuple[BatchJob, list[Row]]] = []
        for job_id in self.state.job_ids:
            job = self.store.find(job_id)
            if job is None:
                continue  # its submit never started: nothing was sent
            part = [by_key.pop(cid) for cid in job.custom_ids if cid in by_key]
            if part:
                resumed.append((job, part))
        self.state.job_ids = [job.id for job, _ in resumed]
        return resumed, list(by_key.values())

    def _price(self, row: Row, route: str) -> float:
        estimate = self._estimates.get(row.key)
        if estimate is None:
            estimate = estimate_rows(
                [(0, row.request)],
                self.model,
                answer_tokens=self.capacity.answer_tokens,
                prompt_cache=self.rates.prompt_cache,
            )[0]
        return self.rates.cost(estimate.usage_on(route), route)

    def emit(self, row: Row, route: str, outcome: Outcome) -> None:
        """Record one row's outcome (and its repeats'); a second answer for a row is counted, not written."""
        if isinstance(outcome, ChatResponse):
            if outcome.cache in ("hit", "semantic_hit"):
                route = "cache"
            if not self.tally.answer(row.key, route, outcome.cost_usd or 0.0, self.elapsed()):
                return
            record = ok_record(row, outcome)
        else:
            record = error_record(row, outcome)
        record["route"] = route
        self._records.put_nowait(record)
        for copy in self._copies.pop(row.request_key, []):
            repeat = {**record, "index": copy.index, "id": copy.id, "route": "cache"}
            if record["status"] == "ok":
                repeat.update(cost_usd=0.0, latency_s=0.0, cache="hit", cache_saved_usd=record["cost_usd"] or 0.0)
                self.tally.answer(copy.key, "cache", 0.0, self.elapsed())
            self._records.put_nowait(identify(repeat, copy))

    async def _report(self, pool: LivePool) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.poll_s))
            self._say(self.tally.progress(self.elapsed(), pool.waiting, self._live_rate()))

    def _live_rate(self) -> float:
        tokens = [e.input_tokens + e.output_tokens for e in self._estimates.values()]
        return self.capacity.rows_per_s(sum(tokens) / len(tokens) if tokens else 0.0, self.capacity.latency_s)

    def _plan_line(self, routes: dict[str, list[Row]], resumed: list[tuple[BatchJob, list[Row]]]) -> str:
        assert self.plan is not None
        parts = [f"{route} {len(rows)}" for route, rows in routes.items() if rows]
        parts += [f"batch (resumed {job.id}) {len(part)}" for job, part in resumed]
        copies = sum(len(c) for c in self._copies.values())
        return (
            f"plan        {', '.join(parts) or 'nothing to send'}; {copies} repeats answered from their first copy; "
            f"predicted ${self.plan.cost_usd:.4f}, finish {self.plan.finish_s + self.elapsed():.0f}s "
            f"of the {self.deadline_s:.0f}s deadline"
        )

    def _say(self, line: str) -> None:
        if self.on_status is not None:
            self.on_status(line)
