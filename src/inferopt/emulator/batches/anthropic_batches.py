"""Anthropic Message Batches: ``/v1/messages/batches`` with ``processing_status`` and results JSONL.

``processing_status`` is ``in_progress`` until the delay has passed, then ``ended``; a cancel
shows ``canceling`` once, then ``ended``. ``request_counts`` keeps every request in
``processing`` until the batch ends (as documented), then splits them into ``succeeded``,
``errored``, ``canceled`` and ``expired``. ``results_url`` (set once ended) serves one line per
request, ``{"custom_id", "result": {"type": "succeeded", "message": ...}}`` or ``errored`` with the
error envelope, or ``canceled`` / ``expired`` with nothing more; lines are not in request order.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from inferopt.emulator.asgi_io import Scope
from inferopt.emulator.batches.billing import BatchBilling
from inferopt.emulator.batches.http_io import limit_param, origin, query, rfc3339
from inferopt.emulator.batches.lines import LineOutcome, answer_lines
from inferopt.emulator.batches.replies import JSONL_TYPE, Reply, anthropic_error, dumps, json_reply, page
from inferopt.emulator.batches.timeline import COMPLETION_WINDOW_S, BatchClock, Timeline
from inferopt.emulator.engine import Engine

_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(slots=True)
class MessageBatch:
    id: str
    tenant: bytes
    created: float
    timeline: Timeline
    outcomes: list[LineOutcome] = field(default_factory=list)


class AnthropicBatches:
    """Every Message Batch of one emulator."""

    def __init__(
        self, engine: Engine, clock: BatchClock, request_ids: Iterator[str], instance: str, billing: BatchBilling
    ) -> None:
        self._engine = engine
        self._billing = billing
        self._clock = clock
        self._request_ids = request_ids
        self._batches: dict[str, MessageBatch] = {}
        self._serial = itertools.count(1)
        self._instance = instance

    def handle(
        self, tenant: bytes, method: str, rest: list[str], body: bytes, scope: Scope, request_id: str
    ) -> Reply | None:
        if not rest and method == "POST":
            return self._create(tenant, body, scope, request_id)
        if not rest and method == "GET":
            return self._list(tenant, scope)
        if not rest:
            return None
        batch = self._batches.get(rest[0])
        if batch is None or batch.tenant != tenant:
            return anthropic_error(404, "not_found_error", f"No Message Batch with id {rest[0]!r}.", request_id)
        if method == "GET" and len(rest) == 1:
            return json_reply(self._object(batch, scope))
        if method == "GET" and rest[1:] == ["results"]:
            return self._results(batch, request_id)
        if method == "POST" and rest[1:] == ["cancel"]:
            batch.timeline.cancel(self._clock.now())
            return json_reply(self._object(batch, scope))
        if method == "DELETE" and len(rest) == 1:
            if self._object(batch, scope)["processing_status"] != "ended":
                message = "Message Batch must be ended before it can be deleted; cancel it first."
                return anthropic_error(400, "invalid_request_error", message, request_id)
            del self._batches[batch.id]
            return json_reply({"id": batch.id, "type": "message_batch_deleted"})
        return None

    def _create(self, tenant: bytes, raw: bytes, scope: Scope, request_id: str) -> Reply:
        limits = self._engine.config.batch_limits
        if len(raw) > limits.anthropic_max_bytes:
            return anthropic_error(
                413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", request_id
            )
        try:
            body = json.loads(raw)
        except ValueError:
            return anthropic_error(400, "invalid_request_error", "The request body is not valid JSON.", request_id)
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            message = "requests: Field required (a non-empty list of {custom_id, params})"
            return anthropic_error(400, "invalid_request_error", message, request_id)
        if len(requests) > limits.anthropic_max_requests:
            message = f"requests: List should have at most {limits.anthropic_max_requests} items, not {len(requests)}"
            return anthropic_error(400, "invalid_request_error", message, request_id)
        items: list[tuple[str, Any]] = []
        seen: set[str] = set()
        for i, item in enumerate(requests):
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
                message = f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
                return anthropic_error(400, "invalid_request_error", message, request_id)
            if custom_id in seen:
                message = f"requests.{i}.custom_id: duplicate custom_id {custom_id!r}; each must be unique"
                return anthropic_error(400, "invalid_request_error", message, request_id)
            if not isinstance(item.get("params"), dict):
                return anthropic_error(400, "invalid_request_error", f"requests.{i}.params: Field required", request_id)
            seen.add(custom_id)
            items.append((custom_id, item["params"]))
        now = self._clock.now()
        outcomes = answer_lines(self._engine, "anthropic", items, self._request_ids, self._clock.unix(now))
        batch_id = f"msgbatch_emu{self._instance}{next(self._serial):06x}"
        timeline = Timeline(now, self._engine.config.batch_delay_s, len(outcomes))
        batch = self._batches[batch_id] = MessageBatch(batch_id, tenant, now, timeline, outcomes)
        self._billing.billed("anthropic", len(outcomes))
        return json_reply(self._object(batch, scope))

    def _list(self, tenant: bytes, scope: Scope) -> Reply:
        params = query(scope)
        items = [self._object(b, scope) for b in reversed(self._batches.values()) if b.tenant == tenant]
        data, more = page(items, params.get("after_id"), params.get("before_id"), limit_param(params, 20, 1000))
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return json_reply({"data": data, "has_more": more, "first_id": first, "last_id": last})

    def _object(self, batch: MessageBatch, scope: Scope) -> dict[str, Any]:
        timeline = batch.timeline
        phase = timeline.phase(self._clock.now())
        if phase == "cancelling":
            timeline.cancel_reported = True
        counts = {"processing": timeline.total, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        ended = phase == "ended"
        if ended:
            done = timeline.done_at(self._clock.now())
            succeeded = sum(1 for o in batch.outcomes[:done] if o.ok)
            not_run = "canceled" if timeline.ending() == "cancelled" else "expired"
            counts = {
                "processing": 0,
                "succeeded": succeeded,
                "errored": done - succeeded,
                "canceled": 0,
                "expired": 0,
            } | {not_run: timeline.total - done}
        unix = self._clock.unix
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "canceling" if phase == "cancelling" else phase,
            "request_counts": counts,
            "ended_at": rfc3339(unix(timeline.ended_at())) if ended else None,
            "created_at": rfc3339(unix(batch.created)),
            "expires_at": rfc3339(unix(batch.created + COMPLETION_WINDOW_S)),
            "archived_at": None,
            "cancel_initiated_at": None
            if timeline.cancel_requested is None
            else rfc3339(unix(timeline.cancel_requested)),
            "results_url": f"{origin(scope)}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    def _results(self, batch: MessageBatch, request_id: str) -> Reply:
        timeline = batch.timeline
        if timeline.phase(self._clock.now()) != "ended":
            message = f"Message Batch {batch.id} has not ended yet; results are available once it has ended."
            return anthropic_error(400, "invalid_request_error", message, request_id)
        done = timeline.done_at(self._clock.now())
        not_run = "canceled" if timeline.ending() == "cancelled" else "expired"
        lines = []
        for outcome in batch.outcomes[:done]:
            kind, key = ("succeeded", "message") if outcome.ok else ("errored", "error")
            lines.append(
                f'{{"custom_id":{dumps(outcome.custom_id)},"result":{{"type":"{kind}","{key}":{outcome.body.decode()}}}}}'
            )
        lines += [dumps({"custom_id": o.custom_id, "result": {"type": not_run}}) for o in batch.outcomes[done:]]
        return Reply(200, ("\n".join(lines) + "\n").encode(), JSONL_TYPE)
