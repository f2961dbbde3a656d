"""Where records go: the ``Sink`` protocol, sinks named by URL, and the background batch writer.

Recording must not slow the request path. :class:`BatchWriter` takes a record with one deque
append (no I/O, no lock, no thread wake-up); a daemon thread drains the deque in batches and hands
them to the sinks, so a slow disk delays records, never answers. ``flush()`` waits until
every record submitted so far is written; ``close()`` flushes and closes the sinks.

Sink URLs: ``sqlite:///abs/path.db`` (or ``sqlite://relative.db``), ``jsonl:///abs/path.jsonl``,
``prometheus:`` (in-memory metrics) or ``prometheus://127.0.0.1:9464`` (also served over HTTP; one
process-wide set of metrics per URL, shared by every ``Metered`` that names it),
``otel:`` (spans through the global OpenTelemetry tracer provider). A bare path ending in ``.db``,
``.sqlite`` or ``.jsonl`` is read as the matching sink.
"""

from __future__ import annotations

import atexit
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar, runtime_checkable

from inferopt.errors import ConfigError
from inferopt.monitor.records import RequestRecord


@runtime_checkable
class Sink(Protocol):
    """Receives batches of records on the writer thread."""

    def write(self, records: Sequence[RequestRecord]) -> None: ...

    def close(self) -> None: ...


def _path_of(url: str, scheme: str) -> str:
    path = url[len(scheme) + 3 :] if url.startswith(f"{scheme}://") else url[len(scheme) + 1 :]
    if not path:
        raise ConfigError(f"sink {url!r} has no path; write it as {scheme}:///absolute/path or {scheme}://relative")
    return path


def sink_from_url(url: str) -> Sink:
    """The sink a URL names (see the module docstring)."""
    if url.startswith("sqlite:") or url.endswith((".db", ".sqlite", ".sqlite3")):
        from inferopt.monitor.sqlite import SQLiteSink

        return SQLiteSink(_path_of(url, "sqlite") if url.startswith("sqlite:") else url)
    if url.startswith("jsonl:") or url.endswith(".jsonl"):
        from inferopt.monitor.jsonl import JSONLSink

        return JSONLSink(_path_of(url, "jsonl") if url.startswith("jsonl:") else url)
    if url.startswith("prometheus:"):
        from inferopt.monitor.prometheus import shared_sink

        address = url[len("prometheus:") :].lstrip("/")
        if address and not address.rpartition(":")[2].isdigit():
            raise ConfigError(f"sink {url!r}: write the address as prometheus://HOST:PORT")
        return shared_sink(address)
    if url.startswith("otel:"):
        from inferopt.monitor.otel import OTelSink

        return OTelSink()
    raise ConfigError(
        f"unknown record sink {url!r}; use sqlite:///path.db, jsonl:///path.jsonl, prometheus: or otel:",
        key="metered.sink",
    )


Item = TypeVar("Item")


class BatchWriter(Generic[Item]):
    """Writes records to sinks in batches, off the caller's thread.

    ``submit`` is a deque append (atomic under the GIL, no lock, no thread wake-up): waking the
    writer for every record would cost a thread switch per request. The writer wakes when a batch
    is full, every ``flush_interval_s``, or when asked to flush or close.
    """

    def __init__(
        self,
        sinks: Sequence[Sink],
        *,
        batch_size: int = 256,
        flush_interval_s: float = 1.0,
        prepare: Callable[[Item], RequestRecord] | None = None,
    ) -> None:
        if batch_size < 1 or flush_interval_s <= 0:
            raise ConfigError("batch_size must be at least 1 and flush_interval_s positive", key="metered")
        self.sinks = list(sinks)
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.errors: list[str] = []  # sink failures, kept so a report can say records were lost
        self._prepare = prepare
        self._pending: deque[Item] = deque()
        self._wake = threading.Event()
        self._written = threading.Condition()
        self._submitted = 0
        self._done = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="inferopt-records", daemon=True)
        self._thread.start()
        # An app that never closes its client still gets its last records written at exit.
        atexit.register(self.close)

    def submit(self, item: Item) -> None:
        """Queue one record (or an item ``prepare`` turns into one on the writer thread); returns at once."""
        self._pending.append(item)
        self._submitted += 1
        if len(self._pending) >= self.batch_size:
            self._wake.set()

    def flush(self, timeout: float | None = 30.0) -> None:
        """Block until every record submitted before this call is written."""
        target = self._submitted
        self._wake.set()
        with self._written:
            self._written.wait_for(lambda: self._done >= target or not self._thread.is_alive(), timeout)

    def close(self) -> None:
        """Write what is left and close the sinks (on the writer thread, which owns them)."""
        if self._closing:
            return
        self._closing = True
        atexit.unregister(self.close)
        self._wake.set()
        self._thread.join(timeout=30.0)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            closing = self._closing
            while self._pending:
                batch: list[Item] = []
                while self._pending and len(batch) < self.batch_size:
                    batch.append(self._pending.popleft())
                self._write(self._records(batch))
                with self._written:
                    self._done += len(batch)
                    self._written.notify_all()
            if closing:
                for sink in self.sinks:
                    try:
                        sink.close()
                    except Exception as exc:
                        self.errors.append(f"{type(sink).__name__}: {type(exc).__name__}: {exc}")
                with self._written:
                    self._written.notify_all()
                return

    def _records(self, batch: list[Item]) -> list[RequestRecord]:
        if self._prepare is None:
            return batch  # type: ignore[return-value]  # without prepare, items are records
        records = []
        for item in batch:
            try:
                records.append(self._prepare(item))
            except Exception as exc:
                self.errors.append(f"preparing a record: {type(exc).__name__}: {exc}")
        return records

    def _write(self, batch: list[RequestRecord]) -> None:
        for sink in self.sinks:
            try:
                sink.write(batch)
            except Exception as exc:  # a broken sink must not kill the writer or the other sinks
                self.errors.append(f"{type(sink).__name__}: {type(exc).__name__}: {exc}")
