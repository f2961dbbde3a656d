"""Gemini Batch mode: ``models/{model}:batchGenerateContent`` and the ``batches/{id}`` operations.

A batch is created from inline requests (``inputConfig.requests.requests``: ``{"request",
"metadata"}``, up to 20 MB in all) or from an uploaded JSONL file (``inputConfig.fileName``: one
``{"key", "request"}`` per line). What every call answers is a long-running ``Operation``: ``name``
``batches/{id}``, ``metadata`` the ``GenerateContentBatch`` (``state`` ``BATCH_STATE_PENDING``, then
``RUNNING``, then ``SUCCEEDED``, ``CANCELLED`` or ``EXPIRED``; ``batchStats`` counts as int64 strings)
and, once ``done``, its ``output``: ``inlinedResponses`` in input order, each with the request's
``metadata``, or a ``responsesFile`` of ``{"key", "response"}`` / ``{"key", "error"}`` lines. A
request naming a ``cachedContent`` is answered with the cache's prefix first and its tokens as
``cachedContentTokenCount``, as live. A request a cancel or the 24-hour window kept from running
is answered with an error of status ``CANCELLED`` or ``DEADLINE_EXCEEDED`` (the emulator's choice:
Google does not document it).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from inferopt.emulator.asgi_io import Scope
from inferopt.emulator.batches.billing import BatchBilling
from inferopt.emulator.batches.gemini_files import GeminiFiles, google_error, token_page
from inferopt.emulator.batches.http_io import rfc3339
from inferopt.emulator.batches.lines import LineOutcome, answer_lines
from inferopt.emulator.batches.replies import Reply, dumps, json_reply
from inferopt.emulator.batches.timeline import BatchClock, Timeline
from inferopt.emulator.engine import Engine, Failure
from inferopt.emulator.gemini_caches import GeminiCaches

INLINE_MAX_BYTES = 20_000_000
_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main."
_ENDED = {"completed": "BATCH_STATE_SUCCEEDED", "cancelled": "BATCH_STATE_CANCELLED", "expired": "BATCH_STATE_EXPIRED"}
_NOT_RUN = {
    "cancelled": {"code": 499, "message": "The batch was cancelled before this request ran.", "status": "CANCELLED"},
    "expired": {"code": 504, "message": "The batch expired before this request ran.", "status": "DEADLINE_EXCEEDED"},
}


@dataclass(slots=True)
class EmulatedGeminiBatch:
    name: str
    tenant: bytes
    model: str
    display_name: str
    timeline: Timeline
    metadata: list[Any]  # per request: the inline metadata, or the file line's key
    outcomes: list[LineOutcome] = field(default_factory=list)
    from_file: bool = False
    responses_file: str | None = None


class GeminiBatches:
    def __init__(
        self, engine: Engine, files: GeminiFiles, clock: BatchClock, request_ids: Iterator[str], billing: BatchBilling
    ) -> None:
        self._engine = engine
        self._files = files
        self._clock = clock
        self._request_ids = request_ids
        self._billing = billing
        self._batches: dict[str, EmulatedGeminiBatch] = {}
        self._serial = itertools.count(1)
        self.caches: GeminiCaches | None = None  # the explicit context caches live calls use (set by the app)

    def create(self, tenant: bytes, model: str, raw: bytes) -> Reply:
        if len(raw) > INLINE_MAX_BYTES:
            return google_error(400, f"Request payload size exceeds the limit: {INLINE_MAX_BYTES} bytes.")
        try:
            body = json.loads(raw)
        except ValueError:
            return google_error(400, "Invalid JSON payload received.")
        batch = body.get("batch") if isinstance(body, dict) else None
        config = batch.get("inputConfig") if isinstance(batch, dict) else None
        if not isinstance(batch, dict) or not isinstance(config, dict):
            return google_error(400, "* BatchGenerateContentRequest.batch.input_config: input_config is required")
        if self._engine.profiles.lookup(model, "gemini") is None:
            return google_error(404, f"models/{model} is not found for API version v1beta, or is not supported.")
        lines = self._lines(tenant, config)
        if isinstance(lines, Reply):
            return lines
        if not lines:
            return google_error(400, "* BatchGenerateContentRequest.batch.input_config: the batch has no requests")
        items = [
            (_key(meta, i), (model, self._expanded(request, model, tenant))) for i, (meta, request) in enumerate(lines)
        ]
        now = self._clock.now()
        outcomes = answer_lines(self._engine, "gemini", items, self._request_ids, self._clock.unix(now))
        name = f"batches/emu{self._files.instance}{next(self._serial):06x}"
        timeline = Timeline(now, self._engine.config.batch_delay_s, len(outcomes))
        display = str(batch.get("displayName") or "")
        created = EmulatedGeminiBatch(name, tenant, model, display, timeline, [m for m, _ in lines])
        created.outcomes, created.from_file = outcomes, "fileName" in config
        self._batches[name] = created
        self._billing.billed("gemini", len(outcomes))
        return json_reply(self._operation(created))

    def _expanded(self, request: dict[str, Any], model: str, tenant: bytes) -> dict[str, Any] | Failure:
        """A request naming a ``cachedContent``, with the cache's prefix first (as live), or why not."""
        if not request.get("cachedContent") or self.caches is None:
            return request
        return self.caches.expand(request, model, tenant)

    def _lines(self, tenant: bytes, config: dict[str, Any]) -> list[tuple[Any, Any]] | Reply:
        """``(metadata or key, request)`` of every request, inline or in the named file."""
        if config.get("fileName"):
            stored = self._files.get(tenant, str(config["fileName"]))
            if stored is None:
                return google_error(404, f"File {config['fileName']} not found.")
            lines: list[tuple[Any, Any]] = []
            for number, raw in enumerate(stored.data.splitlines(), 1):
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    return google_error(400, f"Line {number} of {stored.name} is not valid JSON.")
                if not isinstance(line, dict) or not isinstance(line.get("request"), dict):
                    return google_error(400, f'Line {number} of {stored.name} needs a "request" object.')
                lines.append((line.get("key"), line["request"]))
            return lines
        requests = (config.get("requests") or {}).get("requests")
        if not isinstance(requests, list):
            return google_error(400, "* input_config: one of requests or file_name is required")
        if not all(isinstance(r, dict) and isinstance(r.get("request"), dict) for r in requests):
            return google_error(400, '* input_config.requests.requests: every item needs a "request" object')
        return [(r.get("metadata"), r["request"]) for r in requests]

    def get(self, tenant: bytes, batch_id: str) -> EmulatedGeminiBatch | None:
        found = self._batches.get(f"batches/{batch_id}")
        return found if found is not None and found.tenant == tenant else None

    def describe(self, batch: EmulatedGeminiBatch) -> Reply:
        return json_reply(self._operation(batch))

    def cancel(self, batch: EmulatedGeminiBatch) -> Reply:
        if not batch.timeline.cancel(self._clock.now()):
            return google_error(400, f"Batch {batch.name} is already in a terminal state.")
        batch.timeline.cancel_reported = True  # Gemini goes straight to CANCELLED
        return json_reply({})

    def delete(self, batch: EmulatedGeminiBatch) -> Reply:
        del self._batches[batch.name]
        return json_reply({})

    def list(self, tenant: bytes, scope: Scope) -> Reply:
        mine = [self._operation(b) for b in reversed(self._batches.values()) if b.tenant == tenant]
        return json_reply(token_page("operations", mine, scope, 50, 1000))

    def _operation(self, batch: EmulatedGeminiBatch) -> dict[str, Any]:
        timeline, unix = batch.timeline, self._clock.unix
        now = self._clock.now()
        ended = timeline.phase(now) != "in_progress"
        done = timeline.done_at(now)
        succeeded = sum(1 for o in batch.outcomes[:done] if o.ok)
        state = _ENDED[timeline.ending()] if ended else "BATCH_STATE_RUNNING" if done else "BATCH_STATE_PENDING"
        created = rfc3339(unix(timeline.created))
        meta: dict[str, Any] = {
            "@type": _TYPE + "GenerateContentBatch",
            "model": f"models/{batch.model}",
            "displayName": batch.display_name,
            "createTime": created,
            "updateTime": rfc3339(unix(timeline.ended_at())) if ended else created,
            "batchStats": {
                "requestCount": str(timeline.total),
                "successfulRequestCount": str(succeeded),
                "failedRequestCount": str(done - succeeded + (timeline.total - done if ended else 0)),
                "pendingRequestCount": str(0 if ended else timeline.total - done),
            },
            "state": state,
            "name": batch.name,
        }
        operation: dict[str, Any] = {"name": batch.name, "metadata": meta, "done": ended}
        if ended:
            meta["endTime"] = meta["updateTime"]
            meta["output"] = self._output(batch, done)
            operation["response"] = {"@type": _TYPE + "GenerateContentBatchOutput", **meta["output"]}
        return operation

    def _output(self, batch: EmulatedGeminiBatch, done: int) -> dict[str, Any]:
        answers: list[dict[str, Any]] = []
        for i, outcome in enumerate(batch.outcomes):
            body = json.loads(outcome.body) if i < done else {"error": _NOT_RUN[batch.timeline.ending()]}
            answers.append({"response": body} if i < done and outcome.ok else {"error": body["error"]})
        if not batch.from_file:
            for answer, metadata in zip(answers, batch.metadata, strict=True):
                if metadata is not None:
                    answer["metadata"] = metadata
            return {"inlinedResponses": {"inlinedResponses": answers}}
        if batch.responses_file is None:
            lines = [dumps({"key": key, **answer}) for key, answer in zip(batch.metadata, answers, strict=True)]
            now = self._clock.unix(self._clock.now())
            stored = self._files.add(
                batch.tenant, f"{batch.name}-responses", "application/jsonl", now, source="GENERATED", state="ACTIVE"
            )
            stored.data = ("\n".join(lines) + "\n").encode()
            batch.responses_file = stored.name
        return {"responsesFile": batch.responses_file}


def _key(metadata: Any, index: int) -> str:
    """What a line's seeded error draw is keyed on: its key (so a split batch errs on the same lines)."""
    if isinstance(metadata, dict):
        metadata = metadata.get("key")
    return str(metadata) if metadata is not None else str(index)
