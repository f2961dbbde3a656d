"""Run a batch job: rows -> the client's stack, concurrently, journaled, with live progress.

The runner reads rows lazily, skips the ones an earlier run answered, sends the rest through
``AsyncClient.map_unordered`` (so the config's stack — retries, rate limits, caches — applies),
records each result in the journal the moment it finishes, and merges the journal into the output
in input order at the end. Interrupted runs are resumed by running the same command again.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from inferopt.client import AsyncClient
from inferopt.errors import ProviderHTTPError
from inferopt.parallel.jobs.journal import Journal, fingerprint, journal_path, write_problems
from inferopt.parallel.jobs.rows import InputProblem, JobSpec, Row, read_rows
from inferopt.parallel.jobs.summary import JobStats
from inferopt.types import ChatRequest, ChatResponse


class RemoteEngine(Protocol):
    """Runs rows elsewhere (e.g. Ray) and yields their finished records."""

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


def ok_record(row: Row, response: ChatResponse) -> dict[str, Any]:
    u = response.usage
    return {
        "index": row.index,
        "id": row.id,
        "status": "ok",
        "answer": response.content,
        "model": response.model,
        "finish_reason": response.finish_reason,
        "usage": {
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cache_read_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
        },
        "cost_usd": response.cost_usd,
        "latency_s": round(response.latency_s or 0.0, 6),
        "attempts": response.attempts or 1,
        "emulated": response.emulated,
    }


def error_record(row: Row, error: Exception) -> dict[str, Any]:
    detail: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, ProviderHTTPError):
        detail["status"] = error.status
    return {"index": row.index, "id": row.id, "status": "error", "error": detail}


def invalid_record(problem: InputProblem) -> dict[str, Any]:
    return {
        "index": problem.index,
        "id": f"line-{problem.line}",
        "status": "invalid",
        "error": {"type": "InvalidInputLine", "line": problem.line, "message": problem.reason},
    }


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
    ) -> None:
        self.client = client
        self.paths = paths
        self.spec = spec
        self.concurrency = concurrency
        self.on_progress = on_progress
        self.clock = clock
        self.stats = JobStats()
        self.journal = Journal(paths.journal, {"input_sha256": fingerprint(paths.input), "spec": spec.identity()})
        self.problems: list[dict[str, Any]] = []
        self.engine = engine
        # The job's deadline, from its start: past it no new item starts (in-flight ones finish, the
        # rest wait in the journal for the next run).
        self.deadline_s = deadline_s
        # Local retries are counted live by a hook; a remote engine reports them in each record.
        self.remote_retries = engine is not None

    def _pending(self, answered: set[int]) -> Iterator[Row]:
        default_model = self.client.config.default_model or ""
        for item in read_rows(self.paths.input, self.spec, default_model):
            self.stats.total += 1
            if isinstance(item, InputProblem):
                self.stats.invalid += 1
                self.problems.append({"line": item.line, "error": item.reason, "text": item.text})
                self.journal.record(invalid_record(item))
                continue
            if item.index in answered:
                self.stats.skipped += 1
                continue
            yield item

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
        self.journal.load()
        answered = self.journal.answered()
        self.journal.open()
        started = self.clock()
        pending: dict[int, Row] = {}

        def requests() -> Iterator[ChatRequest]:
            for position, row in enumerate(self._before_deadline(self._pending(answered), started)):
                pending[position] = row
                row.request.options["on_retry"] = self._on_retry
                yield row.request

        results = (
            self._results(requests, pending)
            if self.engine is None
            else self.engine.results(self._before_deadline(self._pending(answered), started))
        )

        try:
            async for record in results:
                self._record(record)
                self.stats.wall_s = self.clock() - started
                if self.on_progress is not None:
                    self.on_progress(self.stats)
        finally:
            self.stats.wall_s = self.clock() - started
            if self.problems:
                write_problems(self.paths.errors, self.problems)
        if self.stats.finished == self.stats.total:
            self.journal.merge_into(self.paths.output, self.stats.total)
        else:
            self.journal.close()
        return self.stats

    def _record(self, record: dict[str, Any]) -> None:
        """Journal one finished item and count it (records come from this process or a Ray worker)."""
        self.journal.record(record)
        s = self.stats
        if record["status"] == "ok":
            usage = record["usage"]
            s.done += 1
            s.input_tokens += usage["input_tokens"]
            s.output_tokens += usage["output_tokens"]
            s.cached_tokens += usage["cache_read_tokens"]
            s.cost_usd += record["cost_usd"] or 0.0
            s.latencies.append(record["latency_s"])
            s.retries += record["attempts"] - 1 if self.remote_retries else 0
        else:
            s.failed += 1
            s.failures[record["error"]["type"]] += 1
