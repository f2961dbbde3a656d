"""The routes of Gemini Batch mode and its Files API on the emulator.

``/v1beta/...`` always; ``/v1/...`` too when the request carries a Gemini key (``x-goog-api-key``
or ``?key=``), since the ``google-genai`` SDK takes ``v1`` with a custom ``base_url`` and OpenAI
owns ``/v1/files`` and ``/v1/batches`` otherwise:

- ``POST {v}/models/{model}:batchGenerateContent``; ``GET {v}/batches``, ``GET|DELETE
  {v}/batches/{id}``, ``POST {v}/batches/{id}:cancel`` (:mod:`.gemini_batches`);
- ``POST /upload/{v}/files`` (resumable), ``GET {v}/files``, ``GET|DELETE {v}/files/{id}``,
  ``GET {v}/files/{id}:download`` and ``GET /download/{v}/files/{id}:download`` (:mod:`.gemini_files`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from inferopt.emulator import wire_gemini
from inferopt.emulator.asgi_io import Header, Receive, Scope, Send, read_body, send_bytes
from inferopt.emulator.batches.billing import BatchBilling
from inferopt.emulator.batches.gemini_batches import GeminiBatches
from inferopt.emulator.batches.gemini_files import GeminiFiles, google_error
from inferopt.emulator.batches.replies import Reply
from inferopt.emulator.batches.timeline import BatchClock
from inferopt.emulator.engine import Engine, Failure, tenant_of

_ROUTE = re.compile(
    r"^/(?:(?P<up>upload|download)/)?(?P<version>v1beta|v1)/"
    r"(?:models/(?P<model>[^/:]+):batchGenerateContent|(?P<kind>batches|files)(?:/(?P<rest>[^/]+))?)$"
)


class GeminiBatchRoutes:
    def __init__(
        self, engine: Engine, instance: str, clock: BatchClock, request_ids: Iterator[str], billing: BatchBilling
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.files = GeminiFiles(instance, billing)
        self.batches = GeminiBatches(engine, self.files, clock, request_ids, billing)

    @staticmethod
    def owns(scope: Scope) -> bool:
        match = _ROUTE.match(scope["path"])
        if match is None:
            return False
        return match["version"] == "v1beta" or wire_gemini.api_key(scope) is not None

    async def handle(self, scope: Scope, receive: Receive, send: Send, base: list[Header]) -> None:
        match = _ROUTE.match(scope["path"])
        assert match is not None
        route = "/v1beta/" + ("models:batchGenerateContent" if match["model"] else str(match["kind"]))
        self._engine.stats.request(route)
        body = await read_body(receive)
        extra: list[Header] = []
        key = wire_gemini.api_key(scope)
        session = self.files.session(scope) if match["up"] == "upload" else None
        if session is not None:  # the upload URL stands for the key that started the upload, as at Google
            reply, extra = self.files.upload(session.tenant, scope, body, self._clock.unix(self._clock.now()))
        elif not key:
            reply = Reply(401, wire_gemini.error_body(Failure(401, "auth")))
        else:
            reply, extra = self._reply(tenant_of(key), scope, match, body)
        self._engine.stats.answered(reply.status)
        await send_bytes(send, reply.status, reply.body, [*base, *extra], reply.content_type)

    def _reply(self, tenant: bytes, scope: Scope, match: re.Match[str], body: bytes) -> tuple[Reply, list[Header]]:
        method, rest = scope["method"], match["rest"] or ""
        now = self._clock.unix(self._clock.now())
        if match["model"]:
            if method != "POST":
                return google_error(404, f"no route {method} {scope['path']}"), []
            return self.batches.create(tenant, match["model"], body), []
        if match["kind"] == "files":
            if match["up"] == "upload" and method == "POST" and not rest:
                return self.files.upload(tenant, scope, body, now)
            if match["up"] == "download" and not rest.endswith(":download"):
                return google_error(404, f"no route {method} {scope['path']}"), []
            return self.files.handle(tenant, method, rest, scope), []
        if not rest:
            return (self.batches.list(tenant, scope) if method == "GET" else _no_route(method, scope)), []
        batch_id, _, verb = rest.partition(":")
        batch = self.batches.get(tenant, batch_id)
        if batch is None:
            return google_error(404, f"Batch batches/{batch_id} not found."), []
        if method == "GET" and not verb:
            return self.batches.describe(batch), []
        if method == "POST" and verb == "cancel":
            return self.batches.cancel(batch), []
        if method == "DELETE" and not verb:
            return self.batches.delete(batch), []
        return _no_route(method, scope), []


def _no_route(method: str, scope: Scope) -> Reply:
    return google_error(404, f"no route {method} {scope['path']}")
