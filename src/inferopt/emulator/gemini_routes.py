"""The Gemini API's routes on the emulator (``/v1beta/models/...``), as the ``google-genai`` SDK calls them.

- ``POST models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse``: the chat route of
  every dialect (:meth:`EmulatorApp._chat`), worded by :mod:`.wire_gemini`;
- ``POST models/{model}:countTokens``: the prompt's tokens, counted as the chat route counts them;
- ``POST models/{model}:embedContent`` and ``:batchEmbedContents``: the deterministic vectors of
  :mod:`.embeddings` (``gemini-embedding-001``: 3072 dimensions, ``outputDimensionality`` shortens);
- ``GET models`` and ``GET models/{model}``: the Gemini profiles, in Google's model format;
- ``cachedContents`` (``POST``, ``GET``, ``GET /{id}``, ``PATCH /{id}``, ``DELETE /{id}``): explicit
  context caches (:mod:`.gemini_caches`); a ``generateContent`` naming one answers with its prefix first.

Both ``/v1beta/models/...`` and ``/v1/models/M:verb`` are served (the SDK takes ``v1`` with a custom
``base_url`` unless ``api_version`` is given); ``GET /v1/models`` stays OpenAI's list.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from inferopt.emulator import calls, embeddings, wire_gemini
from inferopt.emulator.asgi_io import ClientGone, Header, Receive, Scope, Send, read_body, send_bytes
from inferopt.emulator.dialect import ChatRoute
from inferopt.emulator.engine import Engine, Failure, tenant_of
from inferopt.emulator.gemini_caches import GeminiCaches
from inferopt.emulator.stats import EmulatorStats
from inferopt.wire import gemini_embeddings

PREFIX = "/v1beta/models"
EMBEDDING_MODELS = {"gemini-embedding-001": 3072, "text-embedding-004": 768}
_json = json.JSONEncoder(separators=(",", ":")).encode
Chat = Callable[[ChatRoute, str, Scope, Receive, Send], Awaitable[None]]


class GeminiRoutes:
    def __init__(self, engine: Engine, stats: EmulatorStats, seed: int, chat: Chat, base: list[Header]) -> None:
        self.engine = engine
        self.stats = stats
        self.seed = seed
        self.chat = chat
        self.base = base
        self.caches = GeminiCaches(engine.profiles, _count, engine.config.clock)

    @staticmethod
    def owns(path: str) -> bool:
        """Gemini's ``v1beta`` routes, and its ``v1`` ones that have a method (``models/M:verb``)."""
        if path.startswith(("/v1beta/cachedContents", "/v1/cachedContents")):
            return True
        return path == PREFIX or path.startswith(PREFIX + "/") or (path.startswith("/v1/models/") and ":" in path)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if "/cachedContents" in path:
            await self._caches(scope, receive, send)
            return
        name, _, verb = path.partition("/models")[2].lstrip("/").partition(":")
        if method == "GET":
            await self._models(name, send)
        elif method == "POST" and verb in ("generateContent", "streamGenerateContent"):
            route = f"{PREFIX}:{verb}"
            replayed = await self._with_cache(name, scope, receive, send)
            if replayed is not None:
                await self.chat(
                    wire_gemini.dialect(name, verb == "streamGenerateContent"), route, scope, replayed, send
                )
        elif method == "POST" and verb in ("countTokens", "embedContent", "batchEmbedContents"):
            self.stats.request(f"{PREFIX}:{verb}")
            try:
                body = await read_body(receive)
            except ClientGone:
                self.stats.answered(499)
                return
            outcome = self._answer(verb, name, scope, body)
            if isinstance(outcome, Failure):
                status, data = outcome.status, wire_gemini.error_body(outcome)
            else:
                status, data = 200, _json(outcome).encode()
            self.stats.answered(status)
            await send_bytes(send, status, data, self.base)
        else:
            self.stats.answered(404)
            await send_bytes(
                send, 404, wire_gemini.error_body(Failure(404, "bad_request", f"no route {method} {path}")), self.base
            )

    async def _with_cache(self, model: str, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """``receive`` as is, or replaying the body with a named ``cachedContent`` expanded (None: answered)."""
        try:
            body = await read_body(receive)
        except ClientGone:
            self.stats.answered(499)
            return None
        data = calls.json_body(body)
        key = wire_gemini.api_key(scope)
        if key and isinstance(data, dict) and data.get("cachedContent"):
            expanded = self.caches.expand(data, model, tenant_of(key))
            if isinstance(expanded, Failure):
                self.stats.request(f"{PREFIX}:generateContent")
                await self._send(send, expanded)
                return None
            body = _json(expanded).encode()
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if sent:
                return await receive()  # the client's disconnect, when it comes
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    async def _caches(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.stats.request("/v1beta/cachedContents")
        try:
            body = await read_body(receive)
        except ClientGone:
            self.stats.answered(499)
            return
        key = wire_gemini.api_key(scope)
        if not key:
            await self._send(send, Failure(401, "auth"))
            return
        tenant, method = tenant_of(key), scope["method"]
        name = scope["path"].partition("/cachedContents")[2].strip("/")
        data = calls.json_body(body) if body else {}
        if isinstance(data, Failure) or not isinstance(data, dict):
            outcome: dict[str, Any] | Failure = data if isinstance(data, Failure) else calls.bad("a JSON object")
        elif not name:
            outcome = self.caches.create(data, tenant) if method == "POST" else self.caches.list(tenant)
        else:
            full = f"cachedContents/{name}"
            if method == "GET":
                outcome = self.caches.describe(full, tenant)
            elif method == "PATCH":
                outcome = self.caches.update(full, data, tenant)
            elif method == "DELETE":
                outcome = self.caches.delete(full, tenant)
            else:
                outcome = Failure(404, "bad_request", f"no route {method} {scope['path']}")
        await self._send(send, outcome)

    async def _send(self, send: Send, outcome: dict[str, Any] | Failure) -> None:
        if isinstance(outcome, Failure):
            status, data = outcome.status, wire_gemini.error_body(outcome)
        else:
            status, data = 200, _json(outcome).encode()
        self.stats.answered(status)
        await send_bytes(send, status, data, self.base)

    def _answer(self, verb: str, model: str, scope: Scope, body: bytes) -> dict[str, Any] | Failure:
        if not wire_gemini.api_key(scope):
            return Failure(401, "auth")
        data = calls.json_body(body)
        if isinstance(data, Failure):
            return data
        if not isinstance(data, dict):
            return calls.bad("Invalid JSON payload received. The request body must be a JSON object.")
        if verb == "countTokens":
            return self._count(model, data)
        items = data.get("requests") if verb == "batchEmbedContents" else [data]
        if not isinstance(items, list) or not items:
            return calls.bad("* BatchEmbedContentsRequest.requests: requests must not be empty")
        vectors = self._embed(model, items)
        if isinstance(vectors, Failure):
            return vectors
        if verb == "embedContent":
            return {"embedding": {"values": vectors[0]}}
        return gemini_embeddings.encode_batch_response(vectors)

    def _count(self, model: str, data: dict[str, Any]) -> dict[str, Any] | Failure:
        request = data.get("generateContentRequest") or data
        call = wire_gemini.gemini_call({"contents": request.get("contents"), **request}, model, False)
        if isinstance(call, Failure):
            return call
        if self.engine.profiles.lookup(model, "gemini") is None:
            return Failure(404, "unknown_model", model=model, known_models=tuple(self.engine.profiles.names("gemini")))
        return {"totalTokens": call.prompt_tokens}

    def _embed(self, model: str, items: list[Any]) -> list[list[float]] | Failure:
        full = EMBEDDING_MODELS.get(model)
        if full is None:
            return Failure(404, "unknown_model", model=model, known_models=tuple(EMBEDDING_MODELS))
        vectors = []
        for i, item in enumerate(items):
            text = gemini_embeddings.text_of(item)
            if text is None:
                return calls.bad(f"* requests[{i}].content.parts: text parts are required")
            dims = item.get("outputDimensionality")
            if dims is not None and (not isinstance(dims, int) or not 1 <= dims <= full):
                return calls.bad(f"* requests[{i}].output_dimensionality: must be from 1 to {full}")
            vectors.append(embeddings.shorten(embeddings.vector(self.seed, model, text, full), dims))
        return vectors

    async def _models(self, name: str, send: Send) -> None:
        self.stats.request(PREFIX)
        profiles = self.engine.profiles
        entries = {n: profiles.lookup(n, "gemini") for n in profiles.names("gemini")}
        models = [
            {
                "name": f"models/{n}",
                "version": "001",
                "displayName": n,
                "inputTokenLimit": p.context_window,
                "outputTokenLimit": p.max_output_tokens,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
            for n, p in entries.items()
            if p is not None
        ]
        models += [
            {"name": f"models/{n}", "version": "001", "displayName": n, "supportedGenerationMethods": ["embedContent"]}
            for n in EMBEDDING_MODELS
        ]
        if not name:
            self.stats.answered(200)
            await send_bytes(send, 200, _json({"models": models}).encode(), self.base)
            return
        found = next((m for m in models if m["name"] == f"models/{name}"), None)
        status = 200 if found else 404
        self.stats.answered(status)
        known = tuple(str(m["name"]) for m in models)
        body = (
            _json(found).encode()
            if found
            else wire_gemini.error_body(Failure(404, "unknown_model", model=name, known_models=known))
        )
        await send_bytes(send, status, body, self.base)


def _count(body: dict[str, Any], model: str) -> int | Failure:
    """The prompt tokens of a cached prefix, counted as the chat route counts a prompt."""
    call = wire_gemini.gemini_call(body, model, False)
    return call if isinstance(call, Failure) else call.prompt_tokens
