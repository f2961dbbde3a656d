"""OpenAI Batch API over httpx: upload JSONL input files, create batches, read output and error files.

Each item becomes one input line ``{"custom_id", "method": "POST", "url": "/v1/chat/completions",
"body"}`` whose body is exactly what :func:`inferopt.wire.openai_chat.encode_request` sends live.
Items are split into several files and batches when they exceed :data:`OPENAI_LIMITS`.
"""

from __future__ import annotations

import json
from typing import Any

from inferopt.errors import InferoptError
from inferopt.parallel.batch_api.http import EMULATED_HEADER, BatchHTTP, batch_cost, not_finished
from inferopt.parallel.batch_api.job import (
    BatchItemError,
    BatchItemResult,
    ErrorKind,
    ProviderBatch,
    ProviderBatchStatus,
)
from inferopt.parallel.batch_api.split import OPENAI_LIMITS, BatchLimits, split_encoded
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

    async def submit(self, items: list[tuple[str, ChatRequest]]) -> list[ProviderBatch]:
        """Upload and start one batch per group of items within the limits; on failure cancel the started ones."""
        encoded = [(cid, _input_line(cid, request)) for cid, request in items]
        started: list[ProviderBatch] = []
        try:
            for group in split_encoded(encoded, self.limits):
                data = b"\n".join(encoded[i][1] for i in group) + b"\n"
                model = items[group[0]][1].model
                upload = await self._http.json(
                    "POST", "/files", model, data={"purpose": "batch"}, files={"file": ("batch.jsonl", data)}
                )
                body = {"input_file_id": upload["id"], "endpoint": ENDPOINT, "completion_window": "24h"}
                batch = await self._http.json("POST", "/batches", model, json=body)
                started.append(ProviderBatch(str(batch["id"]), [encoded[i][0] for i in group]))
        except BaseException:
            for done in started:
                await self.cancel(done.id)
            raise
        return started

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
