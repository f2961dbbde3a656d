"""Embeddings through the OpenAI Batch API (``endpoint: /v1/embeddings``), at half the price.

Each request becomes one input line ``{"custom_id", "method": "POST", "url": "/v1/embeddings",
"body"}`` whose body is what :func:`inferopt.wire.openai_embeddings.encode_request` sends live; the
answers are read back by the same codec and priced at the embedding models' batch prices. One batch
per call (the API takes up to 50,000 lines of 2,048 inputs each); :meth:`run` submits, polls until
the batch has ended and returns each line's answer or error.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from inferopt.embeddings.pricing import embedding_catalog
from inferopt.embeddings.types import EmbeddingRequest, EmbeddingResponse
from inferopt.errors import InferoptError, UnknownModelError
from inferopt.parallel.batch_api.http import EMULATED_HEADER, BatchHTTP
from inferopt.parallel.batch_api.openai_batch import status_of
from inferopt.pricing import cost_of
from inferopt.providers.base import Provider
from inferopt.wire import openai_embeddings as wire
from inferopt.wire.common import WireError

ENDPOINT = "/v1/embeddings"
MAX_LINES = 50_000


class OpenAIEmbeddingsBatch:
    """One OpenAI account's Batch API, for embeddings."""

    def __init__(self, provider: Provider, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        headers = {"Authorization": f"Bearer {provider.api_key}"} if provider.api_key else {}
        self._http = BatchHTTP(provider, headers, wire.decode_error, "x-request-id")
        self._sleep = sleep

    async def run(
        self, items: list[tuple[str, EmbeddingRequest]], poll_s: float = 10.0, on_status: Callable[[str], None] = print
    ) -> dict[str, EmbeddingResponse | str]:
        """Every item's answer (or its error message) by custom_id, once the batch has ended."""
        if not items or len(items) > MAX_LINES:
            raise InferoptError(f"an embeddings batch holds 1 to {MAX_LINES} requests, got {len(items)}")
        model = items[0][1].model
        lines = [
            json.dumps({"custom_id": cid, "method": "POST", "url": ENDPOINT, "body": wire.encode_request(r)})
            for cid, r in items
        ]
        data = ("\n".join(lines) + "\n").encode()
        upload = await self._http.json(
            "POST", "/files", model, data={"purpose": "batch"}, files={"file": ("embeddings.jsonl", data)}
        )
        body = {"input_file_id": upload["id"], "endpoint": ENDPOINT, "completion_window": "24h"}
        batch = await self._http.json("POST", "/batches", model, json=body)
        while True:
            batch = await self._http.json("GET", f"/batches/{batch['id']}", model)
            status = status_of(batch)
            on_status(f"batch       {status.id}: {status.provider_status} ({status.succeeded}/{status.total})")
            if status.state == "failed":
                raise InferoptError(f"embeddings batch {status.id} failed: {status.detail}")
            if status.state == "ended":
                return await self._results(batch, model)
            await self._sleep(poll_s)

    async def _results(self, batch: dict[str, Any], model: str) -> dict[str, EmbeddingResponse | str]:
        out: dict[str, EmbeddingResponse | str] = {}
        for key in ("output_file_id", "error_file_id"):
            if batch.get(key):
                response = await self._http.request("GET", f"/files/{batch[key]}/content", model)
                emulated = response.headers.get(EMULATED_HEADER) == "true"
                for raw in response.content.splitlines():
                    if raw.strip():
                        line = json.loads(raw)
                        out[str(line.get("custom_id"))] = self._answer(line, model, emulated)
        return out

    def _answer(self, line: dict[str, Any], model: str, emulated: bool) -> EmbeddingResponse | str:
        reply = line.get("response")
        if not isinstance(reply, dict):
            return str((line.get("error") or {}).get("message") or "not run")
        if reply.get("status_code") != 200:
            return self._http.provider.redact(wire.decode_error(json.dumps(reply.get("body")).encode()).message)
        try:
            answer = wire.decode_response(reply.get("body") or {}, model)
        except WireError as exc:
            return f"unreadable answer: {exc}"
        answer.provider, answer.emulated, answer.request_id = (
            self._http.provider.name,
            emulated,
            reply.get("request_id"),
        )
        try:
            answer.cost_usd = cost_of(answer.usage, answer.model, batch=True, catalog=embedding_catalog())
        except UnknownModelError:
            answer.cost_usd = None
        return answer

    async def aclose(self) -> None:
        await self._http.aclose()
