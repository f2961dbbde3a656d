"""Gemini Batch mode over httpx: ``models/{model}:batchGenerateContent`` with inline requests, polled as operations.

Each item becomes ``{"request", "metadata": {"key": custom_id}}`` whose request is exactly what
:func:`inferopt.wire.gemini.encode_request` sends live. Inline requests may total 20 MB, so items
are split into several batches within :data:`GEMINI_LIMITS`. A batch's ``displayName`` names the
job, chunk and digest (see ``tags.py``): a batch a killed submit created is found by listing
``batches`` and adopted. Results come back in ``inlinedResponses`` (or, for a batch made from a
file, a ``responsesFile`` of ``{"key", "response" | "error"}`` lines), priced at batch rates.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from inferopt.errors import InferoptError
from inferopt.parallel.batch_api.http import EMULATED_HEADER, BatchHTTP, batch_cost, not_finished
from inferopt.parallel.batch_api.job import BatchItemError, BatchItemResult, BatchJob, ProviderBatchStatus
from inferopt.parallel.batch_api.split import GEMINI_LIMITS, BatchLimits, PlannedChunk, plan_chunks
from inferopt.parallel.batch_api.tags import CLOCK_SKEW_S, batch_display_name
from inferopt.providers.base import Provider, parse_json
from inferopt.types import ChatRequest, ChatResponse
from inferopt.wire import gemini as gemini_wire
from inferopt.wire.common import WireError
from inferopt.wire.gemini_response import decode_response

LIST_PATH = f"/{gemini_wire.API_VERSION}/batches"
_STATE = {
    "BATCH_STATE_PENDING": "in_progress",
    "BATCH_STATE_RUNNING": "in_progress",
    "BATCH_STATE_SUCCEEDED": "ended",
    "BATCH_STATE_CANCELLED": "ended",
    "BATCH_STATE_EXPIRED": "ended",
    "BATCH_STATE_FAILED": "failed",
}


class GeminiBatch:
    """One Gemini API key's Batch mode (``provider.base_url`` is the API's root, as for chat)."""

    wire = "gemini"

    def __init__(self, provider: Provider, limits: BatchLimits = GEMINI_LIMITS) -> None:
        headers = {"x-goog-api-key": provider.api_key} if provider.api_key else {}
        self._http = BatchHTTP(provider, headers, gemini_wire.decode_error, "x-goog-request-id")
        self.limits = limits

    def plan(self, items: list[tuple[str, ChatRequest]]) -> list[PlannedChunk]:
        """The inline request lists of the job's batches: one per group of items within the limits."""
        encoded = [(cid, _inline(cid, request)) for cid, request in items]
        return plan_chunks(
            encoded, [r.model for _, r in items], self.limits, lambda parts: b'{"requests":[' + b",".join(parts) + b"]}"
        )

    async def find(self, job: BatchJob, index: int, claimed: set[str]) -> str | None:
        """The batch a killed run created for chunk ``index``: its ``displayName`` names the job, chunk and digest."""
        since = job.batches[index].intent_at
        if since is None:
            return None  # no create was ever attempted
        wanted = batch_display_name(job, index)
        async for operation in self._listed():
            meta = operation.get("metadata") or {}
            if _created_at(meta) < since - CLOCK_SKEW_S:
                return None  # newest first: the rest are older than our intent
            if meta.get("displayName") == wanted and str(operation.get("name")) not in claimed:
                return str(operation["name"])
        return None

    async def _listed(self) -> AsyncIterator[dict[str, Any]]:
        params: dict[str, str | int] = {"pageSize": 100}
        while True:
            page = await self._http.json("GET", LIST_PATH, LIST_PATH, params=params)
            for operation in page.get("operations") or []:
                yield operation
            if not page.get("nextPageToken") or not page.get("operations"):
                return
            params["pageToken"] = str(page["nextPageToken"])

    async def create(self, job: BatchJob, index: int, chunk: PlannedChunk, on_upload: Callable[[str], None]) -> str:
        name = json.dumps(batch_display_name(job, index)).encode()
        body = b'{"batch":{"displayName":' + name + b',"inputConfig":{"requests":' + chunk.payload + b"}}}"
        path = gemini_wire.model_path(chunk.model, "batchGenerateContent")
        headers = {"content-type": "application/json"}
        operation = await self._http.json("POST", path, chunk.model, content=body, headers=headers)
        return str(operation["name"])

    async def status(self, batch_id: str) -> ProviderBatchStatus:
        return _status((await self._operation(batch_id))[0])

    async def _operation(self, batch_id: str) -> tuple[dict[str, Any], bool]:
        """The batch's operation, and whether the emulator answered it."""
        if not batch_id.startswith("batches/"):
            raise InferoptError(f"{batch_id!r} is not a Gemini batch name (they look like batches/123abc)")
        response = await self._http.request("GET", f"/{gemini_wire.API_VERSION}/{batch_id}", batch_id)
        data = parse_json(self._http.provider, batch_id, response.content)
        return data, response.headers.get(EMULATED_HEADER) == "true"

    async def cancel(self, batch_id: str) -> ProviderBatchStatus:
        current = await self.status(batch_id)
        if current.state != "in_progress":
            return current  # nothing left to cancel
        await self._http.json("POST", f"/{gemini_wire.API_VERSION}/{batch_id}:cancel", batch_id)
        return await self.status(batch_id)

    async def results(self, batch_id: str) -> list[BatchItemResult]:
        """Every answer of the batch, parsed and priced at batch rates, keyed by the item's custom id."""
        operation, emulated = await self._operation(batch_id)
        meta = operation.get("metadata") or {}
        state = str(meta.get("state"))
        if state == "BATCH_STATE_FAILED":
            return []  # nothing ran; the job reports each item with the batch's error
        if _STATE.get(state) != "ended":
            raise not_finished(batch_id, state)
        output = meta.get("output") or operation.get("response") or {}
        model = str(meta.get("model") or "").removeprefix("models/")
        if output.get("responsesFile"):
            path = f"/download/{gemini_wire.API_VERSION}/{output['responsesFile']}:download"
            response = await self._http.request("GET", path, batch_id, params={"alt": "media"})
            lines = [json.loads(raw) for raw in response.content.splitlines() if raw.strip()]
            return [self._result(_key(line.get("key"), i), line, model, emulated) for i, line in enumerate(lines)]
        entries = (output.get("inlinedResponses") or {}).get("inlinedResponses") or []
        return [
            self._result(_key((entry.get("metadata") or {}).get("key"), i), entry, model, emulated)
            for i, entry in enumerate(entries)
        ]

    def _result(self, custom_id: str, entry: dict[str, Any], model: str, emulated: bool) -> BatchItemResult:
        if isinstance(entry.get("response"), dict):
            try:
                response = _chat_response(entry["response"], model, self._http.provider.name, emulated)
            except WireError as exc:
                return BatchItemResult(custom_id, error=BatchItemError("errored", f"unreadable answer: {exc}"))
            response.cost_usd = batch_cost(response.usage, response.model)
            return BatchItemResult(custom_id, response=response)
        error = entry.get("error") or {}
        status = str(error.get("status") or "")
        message = self._http.provider.redact(str(error.get("message") or "no answer and no error"))
        if status == "CANCELLED":
            return BatchItemResult(custom_id, error=BatchItemError("canceled", f"not run: {message}", None, status))
        code = error.get("code")
        return BatchItemResult(
            custom_id, error=BatchItemError("errored", message, code if isinstance(code, int) else None, status)
        )

    async def aclose(self) -> None:
        await self._http.aclose()


def _inline(custom_id: str, request: ChatRequest) -> bytes:
    if not custom_id:
        raise InferoptError("every batch item needs a non-empty custom_id")
    line = {"request": gemini_wire.encode_request(request), "metadata": {"key": custom_id}}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()


def _key(key: Any, index: int) -> str:
    """An answer's custom id: its request's key, else its position (answers come in input order)."""
    return str(key) if key is not None else str(index)


def _created_at(meta: dict[str, Any]) -> float:
    try:
        return datetime.fromisoformat(str(meta.get("createTime")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")  # unreadable: look at it rather than stop the listing there


def _status(operation: dict[str, Any]) -> ProviderBatchStatus:
    meta = operation.get("metadata") or {}
    state = str(meta.get("state"))
    stats = meta.get("batchStats") or {}
    error = operation.get("error") or {}
    return ProviderBatchStatus(
        str(operation.get("name")),
        _STATE.get(state, "in_progress"),  # type: ignore[arg-type]
        state.removeprefix("BATCH_STATE_").lower(),
        int(stats.get("requestCount") or 0),
        int(stats.get("successfulRequestCount") or 0),
        int(stats.get("failedRequestCount") or 0),
        str(error.get("message") or ""),
    )


def _chat_response(data: dict[str, Any], model: str, provider: str, emulated: bool) -> ChatResponse:
    response = decode_response(data, model)
    response.provider = provider
    response.emulated = emulated
    response.annotations["batch"] = True
    return response
