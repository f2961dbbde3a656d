"""Anthropic Message Batches over httpx: ``POST /v1/messages/batches``, poll, read ``results_url``.

Each item becomes ``{"custom_id", "params"}`` whose params are exactly what
:func:`inferopt.wire.anthropic_messages.encode_request` sends live. Items are split into several Message
Batches when they exceed :data:`ANTHROPIC_LIMITS`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from inferopt.errors import InferoptError
from inferopt.parallel.batch_api.http import EMULATED_HEADER, BatchHTTP, batch_cost, not_finished
from inferopt.parallel.batch_api.job import BatchItemError, BatchItemResult, BatchJob, ProviderBatchStatus
from inferopt.parallel.batch_api.split import ANTHROPIC_LIMITS, BatchLimits, PlannedChunk, plan_chunks
from inferopt.providers.base import Provider
from inferopt.types import ChatRequest, ChatResponse
from inferopt.wire import anthropic_messages as anthropic_wire
from inferopt.wire.common import WireError

PATH = "/v1/messages/batches"
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_STATE = {"in_progress": "in_progress", "canceling": "cancelling", "ended": "ended"}


class AnthropicBatch:
    """One Anthropic account's Message Batches API."""

    wire = "anthropic"

    def __init__(
        self,
        provider: Provider,
        limits: BatchLimits = ANTHROPIC_LIMITS,
        default_max_tokens: int = anthropic_wire.DEFAULT_MAX_TOKENS,
    ) -> None:
        headers = {"anthropic-version": anthropic_wire.API_VERSION}
        if provider.api_key:
            headers["x-api-key"] = provider.api_key
        self._http = BatchHTTP(provider, headers, anthropic_wire.decode_error, "request-id")
        self.limits = limits
        self.default_max_tokens = default_max_tokens

    def plan(self, items: list[tuple[str, ChatRequest]]) -> list[PlannedChunk]:
        """The bodies of the job's Message Batches: one per group of items within the limits."""
        encoded = [(cid, self._request(cid, request)) for cid, request in items]
        return plan_chunks(
            encoded, [r.model for _, r in items], self.limits, lambda parts: b'{"requests":[' + b",".join(parts) + b"]}"
        )

    async def find(self, job: BatchJob, index: int, claimed: set[str]) -> str | None:
        """The Message Batch a killed run created for chunk ``index`` (they carry no metadata: see ``tags.py``).

        Candidates were created after the chunk's intent (less the clock skew), hold as many requests
        and are recorded by no job; the oldest wins, unless it has ended with other custom ids.
        """
        chunk = job.batches[index]
        if chunk.intent_at is None:
            return None
        candidates: list[dict[str, Any]] = []
        async for batch in self._http.listed(PATH, "after_id", chunk.intent_at, _created_at, limit=100):
            total = sum(int(v or 0) for v in (batch.get("request_counts") or {}).values())
            if total == len(chunk.custom_ids) and str(batch["id"]) not in claimed:
                candidates.append(batch)
        for batch in reversed(candidates):  # oldest first: the nearest after our intent
            if batch.get("processing_status") == "ended" and batch.get("results_url"):
                answered = {r.custom_id for r in await self.results(str(batch["id"]))}
                if answered != set(chunk.custom_ids):
                    continue
            return str(batch["id"])
        return None

    async def create(self, job: BatchJob, index: int, chunk: PlannedChunk, on_upload: Callable[[str], None]) -> str:
        headers = {"content-type": "application/json"}
        batch = await self._http.json("POST", PATH, chunk.model, content=chunk.payload, headers=headers)
        return str(batch["id"])

    def _request(self, custom_id: str, request: ChatRequest) -> bytes:
        if not _CUSTOM_ID.match(custom_id):
            raise InferoptError(
                f"custom_id {custom_id!r} is not allowed by Anthropic Message Batches: use 1-64 letters, digits, "
                "'_' or '-' (rename the item's id)"
            )
        params = anthropic_wire.encode_request(request, stream=False, default_max_tokens=self.default_max_tokens)
        return json.dumps(
            {"custom_id": custom_id, "params": params}, ensure_ascii=False, separators=(",", ":")
        ).encode()

    async def status(self, batch_id: str) -> ProviderBatchStatus:
        return _status(await self._http.json("GET", f"{PATH}/{batch_id}", batch_id))

    async def cancel(self, batch_id: str) -> ProviderBatchStatus:
        current = await self.status(batch_id)
        if current.state != "in_progress":
            return current
        return _status(await self._http.json("POST", f"{PATH}/{batch_id}/cancel", batch_id))

    async def results(self, batch_id: str) -> list[BatchItemResult]:
        """Every line of the batch's results file, answers parsed and priced at batch rates."""
        batch = await self._http.json("GET", f"{PATH}/{batch_id}", batch_id)
        status = str(batch.get("processing_status"))
        if status != "ended" or not batch.get("results_url"):
            raise not_finished(batch_id, status)
        response = await self._http.request("GET", self._results_url(batch_id, str(batch["results_url"])), batch_id)
        emulated = response.headers.get(EMULATED_HEADER) == "true"
        return [self._result(json.loads(raw), emulated) for raw in response.content.splitlines() if raw.strip()]

    def _results_url(self, batch_id: str, url: str) -> str:
        """``results_url`` when it is on the provider's own host; else the documented path.

        The request carries the API key, so it never follows a URL to another host.
        """
        target, base = httpx.URL(url), httpx.URL(self._http.provider.base_url)
        if (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port):
            return url
        return f"{PATH}/{batch_id}/results"

    def _result(self, line: dict[str, Any], emulated: bool) -> BatchItemResult:
        custom_id = str(line.get("custom_id"))
        result = line.get("result") or {}
        kind = result.get("type")
        if kind == "succeeded":
            try:
                response = _chat_response(result.get("message") or {}, self._http.provider.name, emulated)
            except WireError as exc:
                return BatchItemResult(custom_id, error=BatchItemError("errored", f"unreadable answer: {exc}"))
            response.cost_usd = batch_cost(response.usage, response.model)
            return BatchItemResult(custom_id, response=response)
        if kind in ("canceled", "expired"):
            reason = "the batch was cancelled" if kind == "canceled" else "the batch's 24-hour window ran out"
            return BatchItemResult(custom_id, error=BatchItemError(kind, f"not run: {reason}"))
        envelope = result.get("error") or {}
        detail = anthropic_wire.decode_error(json.dumps(envelope).encode())
        message = self._http.provider.redact(detail.message)
        return BatchItemResult(custom_id, error=BatchItemError("errored", message, None, detail.type))

    async def aclose(self) -> None:
        await self._http.aclose()


def _created_at(batch: dict[str, Any]) -> float:
    try:
        return datetime.fromisoformat(str(batch.get("created_at"))).timestamp()
    except ValueError:
        return float("inf")  # unreadable: look at it rather than stop the listing there


def _status(batch: dict[str, Any]) -> ProviderBatchStatus:
    status = str(batch.get("processing_status"))
    counts = {k: int(v or 0) for k, v in (batch.get("request_counts") or {}).items()}
    failed = counts.get("errored", 0) + counts.get("canceled", 0) + counts.get("expired", 0)
    return ProviderBatchStatus(
        str(batch.get("id")),
        _STATE.get(status, "in_progress"),  # type: ignore[arg-type]
        status,
        sum(counts.values()),
        counts.get("succeeded", 0),
        failed,
    )


def _chat_response(message: dict[str, Any], provider: str, emulated: bool) -> ChatResponse:
    response = anthropic_wire.decode_response(message, "")
    response.provider = provider
    response.emulated = emulated
    response.annotations["batch"] = True
    return response
