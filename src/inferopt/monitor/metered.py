"""``Metered``: a wrapper that records every request that passes through it.

::

    model = Metered(inner, sinks=["sqlite:///records.db"])        # or in a config stack:
    # stack: [{metered: {sink: "sqlite:///records.db"}}, {cache: ...}, {retry: ...}]

Each request, answered or failed, becomes one :class:`RequestRecord`: start time, model asked
for and model that served, provider, latency, time to first token, tokens, cost, cache outcome
(``response.cache``), route (``response.route``), retries (``response.attempts``),
error class, tenant and key id (``request.options["tenant"]`` / ``["key_id"]``) and a request id.

Place it outermost to see what the caller saw (cache hits, retries included); its cost is priced
from the catalog here because the client prices answers only after the stack returns. Records are
handed to a :class:`BatchWriter` (one queue put) and written by a background thread.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from inferopt.errors import InvalidArgumentError, UnknownModelError, redact
from inferopt.monitor.records import RequestRecord
from inferopt.monitor.sink import BatchWriter, Sink, sink_from_url
from inferopt.pricing import PriceCatalog, cost_of, default_catalog
from inferopt.types import ChatRequest, ChatResponse, Model, StreamDone, StreamEvent, TextDelta, Usage, close_stream

# What the request path hands the writer: the record, the usage to price, a cost already known
# (set by an inner layer) and the cache's own estimate of what a hit saved.
_Pending = tuple[RequestRecord, Usage | None, float | None, Any]

_CACHE_KINDS = {"hit": "exact", "exact": "exact", "semantic_hit": "semantic", "semantic": "semantic"}


def _cache_outcome(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        value = value.get("kind") or ("hit" if value.get("hit") else "miss")
    text = str(value)
    return _CACHE_KINDS.get(text, text)


def _route(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        # The routing wrappers' shape: {"router": ..., "chosen": target, "reason": ..., "attempts": [...]}.
        for key in ("chosen", "name", "route", "model"):
            if key in value:
                return str(value[key])
    return str(value)


def _sequential_ids() -> Callable[[], str]:
    """Unique ids without a system call per request: a random prefix per process, then a counter
    (``uuid4`` reads the OS random source each time, which costs tens of microseconds on some hosts)."""
    prefix = secrets.token_hex(8)
    counter = itertools.count()
    return lambda: f"{prefix}{next(counter):08x}"


class Metered:
    """Records each request through ``inner`` to ``sinks`` (Sink objects or URLs), off the hot path."""

    def __init__(
        self,
        inner: Model,
        sinks: Sequence[Sink | str] = ("sqlite://inferopt-records.db",),
        *,
        catalog: PriceCatalog | None = None,
        batch_size: int = 256,
        flush_interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self.inner = inner
        self.catalog = catalog or default_catalog()
        self.writer: BatchWriter[_Pending] = BatchWriter(
            [sink_from_url(s) if isinstance(s, str) else s for s in sinks],
            batch_size=batch_size,
            flush_interval_s=flush_interval_s,
            prepare=self._price,
        )
        self._clock = clock
        self._timer = timer
        self._new_id = new_id or _sequential_ids()

    @property
    def sinks(self) -> list[Sink]:
        return self.writer.sinks

    def _start(self, request: ChatRequest, streamed: bool) -> RequestRecord:
        options = request.options
        return RequestRecord(
            request_id=str(options.get("request_id") or self._new_id()),
            timestamp=self._clock(),
            model_requested=request.model,
            tenant=str(options.get("tenant") or ""),
            # A key *id* names the caller; if someone passes a raw key here it is redacted, never stored.
            key_id=redact(str(options.get("key_id") or "")),
            streamed=streamed,
        )

    def _price(self, pending: _Pending) -> RequestRecord:
        """Runs on the writer thread: pricing is the costliest step, so it stays off the request path."""
        record, usage, preset_cost, saved_note = pending
        cost = preset_cost
        for name in (record.model_served, record.model_requested):
            if cost is not None or usage is None:  # known already, or a failure: nothing to price
                break
            try:
                cost = cost_of(usage, name, catalog=self.catalog, at=record.timestamp)  # the price of its day
            except UnknownModelError:
                continue
        if record.cache_hit:
            record.saved_usd = float(saved_note) if saved_note is not None else (cost or 0.0)
            record.cost_usd = 0.0
        else:
            record.cost_usd = cost
        return record

    def _finish(self, record: RequestRecord, response: ChatResponse, started: float) -> None:
        record.latency_s = self._timer() - started
        record.model_served = response.model
        record.provider = response.provider
        usage = response.usage
        record.input_tokens = usage.input_tokens
        record.output_tokens = usage.output_tokens
        record.cached_tokens = usage.cache_read_tokens
        record.emulated = response.emulated
        # Read now: outer layers (and the client's own pricing) may change the response afterwards.
        notes = response.annotations
        record.cache = _cache_outcome(response.cache)
        record.route = _route(response.route)
        record.retries = max(0, (response.attempts or 1) - 1)
        record.dropped_params = str(notes.get("dropped_params", ""))
        record.limiter = str(notes.get("limiter", ""))
        if record.ttft_s is None:
            record.ttft_s = record.latency_s if not record.streamed else response.ttft_s
        self.writer.submit((record, replace(usage), response.cost_usd, notes.get("cache_saved_usd")))

    def _fail(self, record: RequestRecord, error: BaseException, started: float) -> None:
        record.latency_s = self._timer() - started
        # A stream the caller stopped reading is not a provider failure, but it is not an answer either.
        record.error = "StreamClosedEarly" if isinstance(error, GeneratorExit) else type(error).__name__
        record.retries = max(0, int(getattr(error, "attempts", 1)) - 1)
        self.writer.submit((record, None, None, None))

    async def complete(self, request: ChatRequest) -> ChatResponse:
        record = self._start(request, streamed=False)
        started = self._timer()
        try:
            response = await self.inner.complete(request)
        except BaseException as error:
            self._fail(record, error, started)
            raise
        self._finish(record, response, started)
        return response

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        record = self._start(request, streamed=True)
        started = self._timer()
        upstream = self.inner.stream(request)
        finished = False
        try:
            async for event in upstream:
                if isinstance(event, TextDelta) and record.ttft_s is None:
                    record.ttft_s = self._timer() - started
                elif isinstance(event, StreamDone):
                    self._finish(record, event.response, started)
                    finished = True
                yield event
        except BaseException as error:
            if not finished:
                self._fail(record, error, started)
            raise
        finally:
            if not finished and not record.error:  # the caller stopped reading before the end
                self._fail(record, GeneratorExit(), started)
            await close_stream(upstream)

    def flush(self) -> None:
        """Block until every record so far is written (tests, and before reading a report)."""
        self.writer.flush()

    async def aclose(self) -> None:
        self.writer.close()
        await self.inner.aclose()


def metered_from_options(inner: Model, options: Mapping[str, Any]) -> Metered:
    """The ``metered`` entry of a config stack: ``sink`` (one URL) or ``sinks`` (a list), batch settings."""
    fields = dict(options)
    sinks = fields.pop("sinks", None) or [fields.pop("sink", "sqlite://inferopt-records.db")]
    fields.pop("sink", None)
    if isinstance(sinks, str):
        sinks = [sinks]
    unknown = set(fields) - {"batch_size", "flush_interval_s"}
    if unknown:
        raise InvalidArgumentError(
            f"unknown option(s) {sorted(unknown)}; known: sink, sinks, batch_size, flush_interval_s"
        )
    return Metered(inner, sinks, **fields)
