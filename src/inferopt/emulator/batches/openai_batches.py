"""OpenAI Batch API: ``/v1/batches`` over input files, with output and error files by ``custom_id``.

Statuses: ``validating`` (the create response), then ``failed`` (the input file broke a rule:
``errors.data`` lists ``{code, line, message, param}``), or ``in_progress`` until the delay has
passed, then ``completed``; a cancel shows ``cancelling`` once, then ``cancelled``; a delay past
the 24-hour window ends ``expired``. Output lines are
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error": null}``; a
failed request goes to the error file with its error status and body, a request never run
(cancelled, expired) with ``"response": null, "error": {"code", "message"}``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from inferopt.emulator.asgi_io import Scope
from inferopt.emulator.batches.billing import BatchBilling
from inferopt.emulator.batches.http_io import limit_param, metadata_problem, query
from inferopt.emulator.batches.lines import LineOutcome, answer_lines
from inferopt.emulator.batches.openai_files import FileStore
from inferopt.emulator.batches.replies import Reply, dumps, json_reply, openai_error, page
from inferopt.emulator.batches.timeline import BatchClock, Timeline
from inferopt.emulator.engine import Engine

ENDPOINT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
ENDPOINTS = (ENDPOINT, EMBEDDINGS)
_NOT_RUN = {
    "cancelled": ("batch_cancelled", "This request was not executed because the batch was cancelled."),
    "expired": ("batch_expired", "This request could not be executed before the completion window expired."),
}


@dataclass(slots=True)
class EmulatedOpenAIBatch:
    id: str
    tenant: bytes
    input_file_id: str
    metadata: dict[str, Any] | None
    created: float
    timeline: Timeline
    model: str | None = None
    outcomes: list[LineOutcome] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    announced: bool = False
    output_file_id: str | None = None
    error_file_id: str | None = None
    files_written: bool = False
    endpoint: str = ENDPOINT


class OpenAIBatches:
    """Every OpenAI batch of one emulator."""

    def __init__(
        self, engine: Engine, files: FileStore, clock: BatchClock, request_ids: Iterator[str], billing: BatchBilling
    ) -> None:
        self._engine = engine
        self._billing = billing
        self._files = files
        self._clock = clock
        self._request_ids = request_ids
        self._batches: dict[str, EmulatedOpenAIBatch] = {}
        self._serial = itertools.count(1)
        self._instance = files.instance

    def handle(self, tenant: bytes, method: str, rest: list[str], body: bytes, scope: Scope) -> Reply | None:
        if not rest and method == "POST":
            return self._create(tenant, body)
        if not rest and method == "GET":
            return self._list(tenant, scope)
        if not rest:
            return None
        batch = self._batches.get(rest[0])
        if batch is None or batch.tenant != tenant:
            return openai_error(404, f"No batch found with id '{rest[0]}'.", "batch_id")
        if method == "GET" and len(rest) == 1:
            return json_reply(self._object(batch))
        if method == "POST" and rest[1:] == ["cancel"]:
            return self._cancel(batch)
        return None

    def _create(self, tenant: bytes, raw: bytes) -> Reply:
        try:
            body = json.loads(raw)
        except ValueError:
            return openai_error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return openai_error(400, "The request body must be a JSON object.")
        if body.get("endpoint") not in ENDPOINTS:
            return openai_error(
                400,
                f"Invalid value for 'endpoint': {body.get('endpoint')!r}; this emulator batches "
                f"{' and '.join(ENDPOINTS)}.",
                "endpoint",
            )
        if body.get("completion_window") != "24h":
            return openai_error(
                400, "Invalid value for 'completion_window': only '24h' is supported.", "completion_window"
            )
        file_id = body.get("input_file_id")
        stored = self._files.get(tenant, file_id) if isinstance(file_id, str) else None
        if stored is None or not isinstance(file_id, str):
            return openai_error(404, f"No such File object: {file_id}", "input_file_id")
        if stored.purpose != "batch":
            return openai_error(400, f"File {file_id} was not uploaded with purpose 'batch'.", "input_file_id")
        now = self._clock.now()
        batch_id = f"batch_emu{self._instance}{next(self._serial):06x}"
        metadata = body.get("metadata")
        problem = metadata_problem(metadata)
        if problem:
            return openai_error(400, problem, "metadata")
        batch = EmulatedOpenAIBatch(batch_id, tenant, file_id, metadata or None, now, Timeline(now, 0.0, 0))
        batch.endpoint = str(body["endpoint"])
        items = self._validate(batch, stored.data)
        if not batch.errors:
            batch.outcomes = answer_lines(
                self._engine, "openai", items, self._request_ids, self._clock.unix(now), batch.endpoint
            )
            batch.timeline = Timeline(now, self._engine.config.batch_delay_s, len(batch.outcomes))
            self._billing.billed("openai", len(batch.outcomes))
        self._batches[batch_id] = batch
        return json_reply(self._object(batch))

    def _validate(self, batch: EmulatedOpenAIBatch, data: bytes) -> list[tuple[str, Any]]:
        """The (custom_id, body) of each line; problems go to ``batch.errors`` (then the batch fails)."""
        lines = [line for line in data.split(b"\n") if line.strip()]

        def fail(code: str, message: str, line: int | None = None, param: str | None = None) -> None:
            if len(batch.errors) < 100:
                batch.errors.append({"code": code, "line": line, "message": message, "param": param})

        if not lines:
            fail("empty_file", "The batch input file is empty.")
        limit = self._engine.config.batch_limits.openai_max_requests
        if len(lines) > limit:
            fail("too_many_tasks", f"The batch input file has {len(lines)} requests; the limit is {limit} per batch.")
            return []
        items: list[tuple[str, Any]] = []
        seen: set[str] = set()
        for number, raw in enumerate(lines, 1):
            try:
                line = json.loads(raw)
            except ValueError:
                fail("invalid_json_line", "This line is not parseable as valid JSON.", number)
                continue
            if not isinstance(line, dict):
                fail("invalid_json_line", "Each line must be a JSON object.", number)
                continue
            custom_id = line.get("custom_id")
            if not isinstance(custom_id, str) or not custom_id:
                fail("missing_required_parameter", "Each line needs a string 'custom_id'.", number, "custom_id")
                continue
            if custom_id in seen:
                fail("duplicate_custom_id", f"The custom_id {custom_id!r} is used more than once.", number, "custom_id")
            seen.add(custom_id)
            if line.get("url") != batch.endpoint or line.get("method", "POST") != "POST":
                fail(
                    "url_mismatch",
                    f"The line's method and url must be POST {batch.endpoint}, the batch's.",
                    number,
                    "url",
                )
            request = line.get("body")
            model = request.get("model") if isinstance(request, dict) else None
            if batch.model is None and isinstance(model, str):
                batch.model = model
            elif isinstance(model, str) and model != batch.model:
                fail("model_mismatch", f"Every line must use the same model ({batch.model}); got {model}.", number)
            items.append((custom_id, request))
        return items

    def _cancel(self, batch: EmulatedOpenAIBatch) -> Reply:
        status = self._status(batch)
        if status not in ("validating", "in_progress"):
            return openai_error(409, f"Cannot cancel a batch with status '{status}'.")
        batch.timeline.cancel(self._clock.now())
        return json_reply(self._object(batch))

    def _list(self, tenant: bytes, scope: Scope) -> Reply:
        params = query(scope)
        items = [self._object(b) for b in reversed(self._batches.values()) if b.tenant == tenant]
        data, more = page(items, params.get("after"), None, limit_param(params))
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return json_reply({"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": more})

    def _status(self, batch: EmulatedOpenAIBatch) -> str:
        if not batch.announced:
            return "validating"
        if batch.errors:
            return "failed"
        phase = batch.timeline.phase(self._clock.now())
        if phase == "ended":
            return batch.timeline.ending()
        return phase

    def _object(self, batch: EmulatedOpenAIBatch) -> dict[str, Any]:
        status = self._status(batch)
        if batch.announced and batch.timeline.phase(self._clock.now()) == "cancelling":
            batch.timeline.cancel_reported = True
        batch.announced = True
        unix, timeline = self._clock.unix, batch.timeline
        ended = status in ("completed", "cancelled", "expired")
        if ended and not batch.files_written:
            self._write_files(batch, status)
        done = timeline.total if ended else timeline.done_at(self._clock.now())
        finished = batch.outcomes[:done] if status != "failed" else []
        failed = sum(1 for o in finished if not o.ok) + (timeline.total - done if ended else 0)
        succeeded = [o for o in finished if o.ok]
        events = ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled")
        stamps: dict[str, int | None] = {f"{event}_at": None for event in events}
        if status == "failed":
            stamps["failed_at"] = unix(batch.created)
        elif status != "validating":
            stamps["in_progress_at"] = unix(batch.created)
        if timeline.cancel_requested is not None:
            stamps["cancelling_at"] = unix(timeline.cancel_requested)
        if ended:
            stamps[{"completed": "completed_at", "cancelled": "cancelled_at", "expired": "expired_at"}[status]] = unix(
                timeline.ended_at()
            )
            if status == "completed":
                stamps["finalizing_at"] = unix(timeline.ended_at())
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "model": batch.model,
            "errors": {"object": "list", "data": batch.errors} if batch.errors else None,
            "input_file_id": batch.input_file_id,
            "completion_window": "24h",
            "status": status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": unix(batch.created),
            "expires_at": unix(batch.created + 24 * 3600),
            **stamps,
            "request_counts": {"total": timeline.total, "completed": len(succeeded), "failed": failed},
            "usage": _usage(succeeded) if ended else None,
            "metadata": batch.metadata,
        }

    def _write_files(self, batch: EmulatedOpenAIBatch, status: str) -> None:
        batch.files_written = True
        done = batch.timeline.done_at(self._clock.now())
        output: list[str] = []
        errors: list[str] = []
        for outcome in batch.outcomes[:done]:
            line = (
                f'{{"id":"batch_req_{outcome.request_id[8:]}","custom_id":{dumps(outcome.custom_id)},'
                f'"response":{{"status_code":{outcome.status},"request_id":"{outcome.request_id}",'
                f'"body":{outcome.body.decode()}}},"error":null}}'
            )
            (output if outcome.ok else errors).append(line)
        self._billing.openai_lines_answered += len(output)
        code, message = _NOT_RUN.get(status, ("batch_expired", ""))
        for outcome in batch.outcomes[done:]:
            error = {"code": code, "message": message}
            errors.append(
                dumps(
                    {
                        "id": f"batch_req_{outcome.request_id[8:]}",
                        "custom_id": outcome.custom_id,
                        "response": None,
                        "error": error,
                    }
                )
            )
        now = self._clock.unix(batch.timeline.ended_at())
        for lines, attr, name in ((output, "output_file_id", "output"), (errors, "error_file_id", "errors")):
            if lines:
                data = ("\n".join(lines) + "\n").encode()
                stored = self._files.add(batch.tenant, f"batch_{batch.id}_{name}.jsonl", "batch_output", data, now)
                setattr(batch, attr, stored.id)


def _usage(succeeded: list[LineOutcome]) -> dict[str, Any]:
    prompt = sum(o.prompt_tokens for o in succeeded)
    completion = sum(o.completion_tokens for o in succeeded)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }
