"""The batch routes of the emulator: OpenAI Files + Batch API, Anthropic Message Batches, Gemini Batch mode.

``EmulatorApp`` hands every path :meth:`BatchRoutes.owns` to :meth:`BatchRoutes.handle`, and
Gemini's to ``BatchRoutes.gemini`` (``gemini_routes.py``). Batch state lives in memory, per
emulator, and each API key (tenant) sees only its own files and batches. Lines are answered by
the emulator's own engine (see ``lines.py``) when a batch is created; the clock then decides
what a poll sees (see ``timeline.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from inferopt.emulator.asgi_io import Header, Receive, Scope, Send, header, read_body, send_bytes
from inferopt.emulator.batches.anthropic_batches import AnthropicBatches
from inferopt.emulator.batches.billing import BatchBilling
from inferopt.emulator.batches.gemini_routes import GeminiBatchRoutes
from inferopt.emulator.batches.http_io import multipart_parts
from inferopt.emulator.batches.openai_batches import OpenAIBatches
from inferopt.emulator.batches.openai_files import FileStore
from inferopt.emulator.batches.replies import (
    Reply,
    anthropic_auth_error,
    anthropic_error,
    openai_auth_error,
    openai_error,
)
from inferopt.emulator.batches.timeline import BatchClock
from inferopt.emulator.engine import Engine, tenant_of

_PREFIXES = ("/v1/files", "/v1/batches", "/v1/messages/batches", "/files", "/batches")


def _bearer(scope: Scope) -> str | None:
    value = header(scope, b"authorization") or ""
    return value[7:].strip() or None if value[:7].lower() == "bearer " else None


class BatchRoutes:
    """Routes ``/v1/files*``, ``/v1/batches*`` (OpenAI) and ``/v1/messages/batches*`` (Anthropic)."""

    def __init__(self, engine: Engine, instance: str, base_headers: list[Header]) -> None:
        self._engine = engine
        self._base_headers = base_headers
        clock = BatchClock.starting_now(engine.config.clock)
        self._clock = clock
        self._serial = itertools.count(1)
        self._instance = instance
        limits = engine.config.batch_limits
        self.billing = BatchBilling()
        self.files = FileStore(instance, limits.openai_max_bytes, self.billing)
        self.openai = OpenAIBatches(engine, self.files, clock, self._request_ids(), self.billing)
        self.anthropic = AnthropicBatches(engine, clock, self._request_ids(), instance, self.billing)
        self.gemini = GeminiBatchRoutes(engine, instance, clock, self._request_ids(), self.billing)

    def _request_ids(self) -> Iterator[str]:
        while True:
            yield self._next_request_id()

    def _next_request_id(self) -> str:
        return f"req_emu_{self._instance}b{next(self._serial):x}"

    @staticmethod
    def owns(path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in _PREFIXES)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        body = await read_body(receive)
        request_id = self._next_request_id()
        anthropic = path.startswith("/v1/messages/batches")
        route = path.split("/")
        route_name = "/v1/messages/batches" if anthropic else "/v1/" + route[2 if route[1] == "v1" else 1]
        self._engine.stats.request(route_name)
        reply = self._reply(scope, method, path, body, anthropic, request_id)
        self._engine.stats.answered(reply.status)
        id_header = b"request-id" if anthropic else b"x-request-id"
        await send_bytes(
            send, reply.status, reply.body, [*self._base_headers, (id_header, request_id.encode())], reply.content_type
        )

    def _reply(self, scope: Scope, method: str, path: str, body: bytes, anthropic: bool, request_id: str) -> Reply:
        if anthropic:
            key = (header(scope, b"x-api-key") or "").strip() or _bearer(scope)
            if not key:
                return anthropic_auth_error(request_id)
            rest = [p for p in path.removeprefix("/v1/messages/batches").split("/") if p]
            found = self.anthropic.handle(tenant_of(key), method, rest, body, scope, request_id)
            return found or anthropic_error(404, "not_found_error", f"Unknown route {method} {path}", request_id)
        key = _bearer(scope)
        if not key:
            return openai_auth_error()
        parts = [p for p in path.removeprefix("/v1").split("/") if p]
        tenant, resource, rest = tenant_of(key), parts[0], parts[1:]
        reply: Reply | None
        if resource == "files" and method == "POST" and not rest:
            form = multipart_parts(scope, body)
            if isinstance(form, str):
                return openai_error(400, form)
            reply = self.files.upload(tenant, form, self._clock.unix(self._clock.now()))
        elif resource == "files":
            reply = self.files.handle(tenant, method, rest, scope)
        else:
            reply = self.openai.handle(tenant, method, rest, body, scope)
        return reply or openai_error(404, f"Unknown route {method} {path} (emulator)", code="unknown_url")
