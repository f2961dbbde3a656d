"""Run a batch job: rows -> the client's stack, concurrently, journaled, with live progress.

:meth:`BatchRunner.prepare` reads what earlier runs left (output file and journal, by row
identity) and plans the run before anything is sent: answered rows are skipped, failed ones run
again, and a changed job stops here (``resume.py``). :meth:`BatchRunner.run` then reads the rows
lazily, sends the ones to run through ``AsyncClient.map_unordered`` (so the config's stack —
retries, rate limits, caches — applies), journals each result the moment it finishes, and writes
the output in input order at the end. Rerunning the same command resumes, or has nothing to do.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Protocol

from inferopt.client import AsyncClient
from inferopt.errors import JobChangedError
from inferopt.parallel.jobs.journal import Journal, journal_path, write_problems
from inferopt.parallel.jobs.ordered import in_index_order
from inferopt.parallel.jobs.output import read_output_records, write_output
from inferopt.parallel.jobs.records import error_record, identify, invalid_record, ok_record
from inferopt.parallel.jobs.resume import JobPlan, KeyOrder, changed_message, plan_job
from inferopt.parallel.jobs.rows import JobSpec, Row, read_rows
from inferopt.parallel.jobs.summary import JobStats
from inferopt.types import ChatRequest, ChatResponse

__all__ = ["BatchRunner", "JobPaths", "RemoteEngine", "error_record", "invalid_record", "ok_record"]


class RemoteEngine(Protocol):
    """Runs rows elsewhere (e.g. Ray) and yields their finished records.

    ``rows`` may be read more than once (each read parses the input again). An engine whose records
    all carry their row's identity says so with a true ``identifies_records`` attribute, so the
    runner does not hold the rows it hands on until their records come.
    """

    def results(self, rows: Iterable[Row]) -> AsyncIterator[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class JobPaths:
    input: Path
    output: Path

    @property
    def journal(self) -> Path:
        return journal_path(self.output)

    @property
    def errors(self) -> Path:
        return self.output.with_name(self.output.stem + ".errors.jsonl")


class _Rereadable:
    """An iterable whose every iteration starts again (the rows, read from the input once more)."""

    def __init__(self, rows: Callable[[], Iterator[Row]]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[Row]:
        return self._rows()


class BatchRunner:
    def __init__(
        self,
        client: AsyncClient,
        paths: JobPaths,
        spec: JobSpec,
        *,
        concurrency: int = 64,
        on_progress: Callable[[JobStats], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
        engine: RemoteEngine | None = None,
        deadline_s: float | None = None,
        restart: bool = False,
    ) -> None:
        self.client = client
        self.paths = paths
        self.spec = spec
        self.concurrency = concurrency
        self.on_progress = on_progress
        self.clock = clock
        self.stats = JobStats()
        # --restart: a fresh journal whose header says the old output is superseded (kept until replaced).
        self.journal = Journal(
            paths.journal, {"spec": spec.identity(), **({"replaces_output": True} if restart else {})}
        )
        self.restart = restart
        self.plan: JobPlan | None = None
        self.up_to_date = False  # the output already answers every row: nothing to do, nothing written
        self.engine = engine
        # The job's deadline, from its start: past it no new item starts (in-flight ones finish, the
        # rest wait in the journal for the next run).
        self.deadline_s = deadline_s
        # Local retries are counted live by a hook; a remote engine reports them in each record.
        self.remote_retries = engine is not None
        self._sent: dict[int, Row] = {}  # rows handed to a remote engine, to identify its records
        self._answered_now = bytearray()  # one bit per row: recorded by this run
        self._rows_now = 0

    def _rows(self) -> Iterator[Row]:
        return (
            r
            for r in read_rows(self.paths.input, self.spec, self.client.config.default_model or "")
            if isinstance(r, Row)
        )

    def prepare(self) -> JobPlan:
        """Read what earlier runs left and plan this one; a changed job raises here, before any request."""
        if self.restart:
            self.journal.path.unlink(missing_ok=True)
        self.journal.load()
        superseded = self.restart or self.journal.replaces_output
        output = {} if superseded else read_output_records(self.paths.output)
        earlier = {**output, **self.journal.records}
        default_model = self.client.config.default_model or ""
        plan = plan_job(read_rows(self.paths.input, self.spec, default_model), earlier)
        if plan.changed:
            raise JobChangedError(changed_message(self.paths.output, plan.changed))
        self.plan = plan
        s = self.stats
        s.total, s.skipped, s.invalid = plan.total, len(plan.answered), len(plan.invalid)
        s.earlier_cost_usd = plan.earlier_cost_usd
        self._answered_now = bytearray((plan.total + 7) // 8)
        self.up_to_date = plan.to_run == 0 and not self.journal.path.exists() and KeyOrder(output) == plan.order
        return plan

    def _pending(self, plan: JobPlan) -> Iterator[Row]:
        hold = self.engine is not None and not getattr(self.engine, "identifies_records", False)
        for row in self._rows():
            if row.key not in plan.answered:
                if hold:
                    self._sent[row.index] = row
                yield row

    async def _results(
        self, requests: Callable[[], Iterator[ChatRequest]], pending: dict[int, Row]
    ) -> AsyncIterator[dict[str, Any]]:
        """Finished items as journal records, from this process's event loop."""
        async for position, result in self.client.map_unordered(requests(), concurrency=self.concurrency):
            row = pending.pop(position)
            yield ok_record(row, result) if isinstance(result, ChatResponse) else error_record(row, result)

    def _before_deadline(self, rows: Iterator[Row], started: float) -> Iterator[Row]:
        """The rows that may still start; past the job's deadline the rest are only counted.

        Engines pull rows lazily (the local one per request, Ray per chunk), so this one gate bounds
        both: nothing starts after the deadline, and what started finishes and is journaled.
        """
        for row in rows:
            if self.deadline_s is not None and self.clock() - started > self.deadline_s:
                self.stats.not_started += 1  # keep reading: the totals must stay right
                continue
            yield row

    def _on_retry(self, error: BaseException, wait: float) -> None:
        self.stats.retries += 1

    async def run(self) -> JobStats:
        plan = self.plan or self.prepare()
        if self.up_to_date:
            return self.stats
        self.journal.open()  # before any request: an unwritable folder fails here, having paid nothing
        started = self.clock()
        pending: dict[int, Row] = {}

        def requests() -> Iterator[ChatRequest]:
            for position, row in enumerate(self._before_deadline(self._pending(plan), started)):
                pending[position] = row
                row.request.options["on_retry"] = self._on_retry
                yield row.request

        rows = _Rereadable(lambda: self._before_deadline(self._pending(plan), started))
        results = self._results(requests, pending) if self.engine is None else self.engine.results(rows)
        try:
            async for record in results:
                self._record(record)
                self.stats.wall_s = self.clock() - started
                if self.on_progress is not None:
                    self.on_progress(self.stats)
        finally:
            self.stats.wall_s = self.clock() - started
            self.journal.close()
        self._finish(plan)
        return self.stats

    def _finish(self, plan: JobPlan) -> None:
        """When every row has an outcome: the output in input order, the errors file, no journal.

        The output is merged from the earlier answers and this run's journal records, sorted in
        bounded memory (``ordered.py``), so a million-row job never holds its records at once.
        """
        if self.stats.not_started or self._rows_now + len(plan.answered) + len(plan.invalid) < plan.total:
            return  # the journal keeps what is done; the next run continues
        earlier = chain(plan.invalid.values(), plan.answered.values())
        write_output(self.paths.output, in_index_order(chain(earlier, self.journal.appended()), self.paths.output))
        write_problems(self.paths.errors, plan.problems)
        self.journal.remove()

    def _record(self, record: dict[str, Any]) -> None:
        """Journal one finished item and count it (records come from this process or a remote engine)."""
        row = self._sent.pop(record["index"], None)  # held only while a remote engine runs it
        if "row_key" not in record:
            assert row is not None, "a remote engine's record names a row it was not given"
            identify(record, row)
        self.journal.record(record)
        index = int(record["index"])
        if not self._answered_now[index >> 3] & (1 << (index & 7)):  # a row counts once (bitmap: 1 bit a row)
            self._answered_now[index >> 3] |= 1 << (index & 7)
            self._rows_now += 1
        self.stats.count(record, remote_retries=self.remote_retries)
