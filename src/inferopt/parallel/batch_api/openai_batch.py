"""OpenAI Batch API over httpx: upload JSONL input files, create batches, read output and error files.

Each item becomes one input line ``{"custom_id", "method": "POST", "url": "/v1/chat/completions",
"body"}`` whose body is exactly what :func:`inferopt.wire.openai_chat.encode_request` sends live.
Items are split into several files and batches when they exceed :data:`OPENAI_LIMITS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from inferopt.errors import InferoptError
from inferopt.parallel.batch_api.http import EMULATED_HEADER, BatchHTTP, batch_cost, not_finished
from inferopt.parallel.batch_api.job import (
    BatchItemError,
    BatchItemResult,
    BatchJob,
    ErrorKind,
    ProviderBatch,
    ProviderBatchStatus,
)
from inferopt.parallel.batch_api.split import OPENAI_LIMITS, BatchLimits, PlannedChunk, plan_chunks
from inferopt.parallel.batch_api.tags import batch_metadata, input_filename
from inferopt.providers.base import Provider
from inferopt.types import ChatRequest, ChatResponse
from inferopt.wire import openai_chat as openai_wire
from inferopt.wire.common import WireError

ENDPOINT = "/v1/chat/completions"
_ENDED = ("completed", "cancelled", "expired")
_NOT_RUN_KIND: dict[str, ErrorKind] = {"batch_cancelled": "canceled", "batch_expired": "expired"}


class OpenAIBatch:
    """One OpenAI account's Batch API (``provider.base_url`` ends in ``/v1``, as for chat)."""

    wire = "openai"

    def __init__(self, provider: Provider, limits: BatchLimits = OPENAI_LIMITS) -> None:
        headers = {"Authorization": f"Bearer {provider.api_key}"} if provider.api_key else {}
        self._http = BatchHTTP(provider, headers, openai_wire.decode_error, "x-request-id")
        self.limits = limits

    def plan(self, items: list[tuple[str, ChatRequest]]) -> list[PlannedChunk]:
        """The input files of the job: one JSONL file per group of items within the limits."""
        encoded = [(cid, _input_line(cid, request)) for cid, request in items]
        return plan_chunks(encoded, [r.model for _, r in items], self.limits, lambda lines: b"\n".join(lines) + b"\n")

    async def find(self, job: BatchJob, index: int, claimed: set[str]) -> str | None:
        """The batch a killed run created for chunk ``index``: its metadata names the job, chunk and digest."""
        since = job.batches[index].intent_at
        if since is None:
            return None  # no create was ever attempted
        wanted = batch_metadata(job, index)
        async for batch in self._http.listed("/batches", "after", since, _unix, limit=100):
            if batch.get("metadata") == wanted and str(batch["id"]) not in claimed:
                return str(batch["id"])
        return None

    async def create(self, job: BatchJob, index: int, chunk: PlannedChunk, on_upload: Callable[[str], None]) -> str:
        """Upload the chunk's input file (or reuse the one a killed run uploaded), then create its batch."""
        name = input_filename(job, index)
        file_id = job.batches[index].file_id or await self._uploaded(name, len(chunk.payload), job.batches[index])
        if file_id is None:
            upload = await self._http.json(
                "POST", "/files", chunk.model, data={"purpose": "batch"}, files={"file": (name, chunk.payload)}
            )
            file_id = str(upload["id"])
        on_upload(file_id)
        body = {
            "input_file_id": file_id,
            "endpoint": ENDPOINT,
            "completion_window": "24h",
            "metadata": batch_metadata(job, index),
        }
        return str((await self._http.json("POST", "/batches", chunk.model, json=body))["id"])

    async def _uploaded(self, filename: str, size: int, chunk: ProviderBatch) -> str | None:
        if chunk.intent_at is None:
            return None
        params = {"purpose": "batch", "order": "desc"}
        async for found in self._http.listed("/files", "after", chunk.intent_at, _unix, limit=1000, params=params):
            if found.get("filename") == filename and found.get("bytes") == size:
                return str(found["id"])
        return None

    async def status(self, batch_id: str) -> ProviderBatchStatus:
        return status_of(await self._http.json("GET", f"/batches/{batch_id}", batch_id))

    async def cancel(self, batch_id: str) -> ProviderBatchStatus:
        current = await self.status(batch_id)
        if current.state in ("ended", "failed", "cancelling"):
            return current  # nothing left to cancel
        return status_of(await self._http.json("POST", f"/batches/{batch_id}/cancel", batch_id))

    async def results(self, batch_id: str) -> list[BatchItemResult]:
        """Every line of the output and error files, answers parsed and priced at batch rates."""
        batch = await self._http.json("GET", f"/batches/{batch_id}", batch_id)
        status = str(batch.get("status"))
        if status == "failed":
            return []  # nothing ran; the job reports each item with the batch's errors
        if status not in _ENDED:
            raise not_finished(batch_id, status)
        results: list[BatchItemResult] = []
        for key in ("output_file_id", "error_file_id"):
            if batch.get(key):
                response = await self._http.request("GET", f"/files/{batch[key]}/content", batch_id)
                emulated = response.headers.get(EMULATED_HEADER) == "true"
                for raw in response.content.splitlines():
                    if raw.strip():
                        results.append(self._result(json.loads(raw), emulated))
        return results

    def _result(self, line: dict[str, Any], emulated: bool) -> BatchItemResult:
        custom_id = str(line.get("custom_id"))
        reply = line.get("response")
        if not isinstance(reply, dict):
            error = line.get("error") or {}
            kind = _NOT_RUN_KIND.get(str(error.get("code")), "errored")
            return BatchItemResult(
                custom_id, error=BatchItemError(kind, str(error.get("message", "")), None, error.get("code"))
            )
        body = reply.get("body") or {}
        status = int(reply.get("status_code") or 0)
        if status != 200:
            detail = openai_wire.decode_error(json.dumps(body).encode())
            message = self._http.provider.redact(detail.message)
            return BatchItemResult(
                custom_id, error=BatchItemError("errored", message, status, detail.type or detail.code)
            )
        try:
            response = _chat_response(body, self._http.provider.name, reply.get("request_id"), emulated)
        except WireError as exc:
            return BatchItemResult(custom_id, error=BatchItemError("errored", f"unreadable answer: {exc}", status))
        response.cost_usd = batch_cost(response.usage, response.model)
        return BatchItemResult(custom_id, response=response)

    async def aclose(self) -> None:
        await self._http.aclose()


def _input_line(custom_id: str, request: ChatRequest) -> bytes:
    if not custom_id:
        raise InferoptError("every batch item needs a non-empty custom_id")
    body = openai_wire.encode_request(request, stream=False)
    line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()


def _unix(item: dict[str, Any]) -> float:
    return float(item.get("created_at") or 0)


def status_of(batch: dict[str, Any]) -> ProviderBatchStatus:
    status = str(batch.get("status"))
    counts = batch.get("request_counts") or {}
    errors = (batch.get("errors") or {}).get("data") or []
    detail = "; ".join(
        (f"line {e.get('line')}: " if e.get("line") else "") + f"{e.get('message')} ({e.get('code')})"
        for e in errors[:5]
    )
    state = (
        "failed"
        if status == "failed"
        else "ended"
        if status in _ENDED
        else "cancelling"
        if status == "cancelling"
        else "in_progress"
    )
    return ProviderBatchStatus(
        str(batch.get("id")),
        state,  # type: ignore[arg-type]
        status,
        int(counts.get("total") or 0),
        int(counts.get("completed") or 0),
        int(counts.get("failed") or 0),
        detail,
    )


def _chat_response(data: dict[str, Any], provider: str, request_id: Any, emulated: bool) -> ChatResponse:
    response = openai_wire.decode_response(data, "")
    response.provider = provider
    response.request_id = str(request_id) if request_id else None
    response.emulated = emulated or data.get("system_fingerprint") == "inferopt-emulator"
    response.annotations["batch"] = True
    return response
