"""The emulator as a plain ASGI application: one small router, three wire dialects.

Routes: ``POST /v1/chat/completions`` and ``POST /v1/embeddings`` (OpenAI), ``POST /v1/messages`` and
``POST /v1/messages/count_tokens`` (Anthropic),
``/v1beta/models/...`` (Gemini: see ``gemini_routes``), ``GET /v1/models`` (OpenAI list format, or
Anthropic's when the request carries ``anthropic-version``), ``GET /health``,
``GET /emulator/stats``, and the Batch APIs (``/v1/files``, ``/v1/batches``, ``/v1/messages/batches``,
Gemini's ``batches`` and ``files``: see ``emulator/batches``). Every response carries
``x-inferopt-emulated: true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
from collections.abc import Callable
from typing import Any

from inferopt.conversations import MemoryConversations
from inferopt.emulator import calls, embeddings, wire_anthropic, wire_openai, wire_responses
from inferopt.emulator.asgi_io import (
    JSON_TYPE,
    ClientGone,
    Header,
    Receive,
    Scope,
    Send,
    end_stream,
    header,
    read_body,
    send_bytes,
    send_piece,
    start_stream,
    until_disconnect,
)
from inferopt.emulator.batches import BatchRoutes
from inferopt.emulator.batches.gemini_routes import GeminiBatchRoutes
from inferopt.emulator.config import EmulatorConfig
from inferopt.emulator.dialect import ChatRoute
from inferopt.emulator.engine import Engine, Failure, ParsedCall, Plan, tenant_of
from inferopt.emulator.gemini_routes import GeminiRoutes
from inferopt.emulator.http_server import RECEIVED_AT
from inferopt.emulator.latency import stream_schedule
from inferopt.emulator.limits import anthropic_headers, openai_headers, retry_after_headers
from inferopt.emulator.scripted import (
    FAULT_HEADER,
    NO_FAULT,
    FaultScripts,
    Step,
    drawn_step,
    error_event,
    scripted_failure,
    status_failure,
    without_final_marker,
)
from inferopt.wire.sse import MALFORMED

EMULATED: Header = (b"x-inferopt-emulated", b"true")
_json = json.JSONEncoder(separators=(",", ":")).encode


def _bearer(scope: Scope) -> str | None:
    value = header(scope, b"authorization")
    if value is None or value[:7].lower() != "bearer ":
        return None
    return value[7:].strip() or None


def _anthropic_key(scope: Scope) -> str | None:
    return (header(scope, b"x-api-key") or "").strip() or _bearer(scope)


OPENAI = ChatRoute(
    provider="openai",
    id_prefix="chatcmpl-emu-",
    request_id_header=b"x-request-id",
    parse=lambda body, _scope: calls.openai_call(body),
    api_key=_bearer,
    error_body=lambda failure, _request_id: wire_openai.error_body(failure),
    limit_headers=openai_headers,
    body=wire_openai.completion_body,
    writer=wire_openai.PlanChunkWriter,
)
ANTHROPIC = ChatRoute(
    provider="anthropic",
    id_prefix="msg_emu_",
    request_id_header=b"request-id",
    parse=lambda body, _scope: calls.anthropic_call(body),
    api_key=_anthropic_key,
    error_body=wire_anthropic.error_body,
    limit_headers=lambda decision: anthropic_headers(decision, time.time()),
    body=lambda plan, message_id, _created: wire_anthropic.message_body(plan, message_id),
    writer=lambda plan, message_id, _created, _usage: wire_anthropic.PlanEventWriter(plan, message_id),
)


def responses_dialect(store: MemoryConversations) -> ChatRoute:
    """The Responses route over ``store`` (where ``store: true`` answers are kept)."""
    return ChatRoute(
        provider="openai",
        id_prefix="resp_emu_",
        request_id_header=b"x-request-id",
        parse=lambda body, scope: wire_responses.responses_call(body, store, scope),
        api_key=_bearer,
        error_body=lambda failure, _request_id: wire_openai.error_body(failure),
        limit_headers=openai_headers,
        body=wire_responses.response_body,
        writer=wire_responses.PlanResponsesWriter,
    )


class EmulatorApp:
    """The ASGI callable. ``on_startup`` callbacks run when the server's lifespan starts."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.engine = Engine(config)
        self.stats = self.engine.stats
        self.on_startup: list[Callable[[], None]] = []
        self._serial = itertools.count(1)
        self._instance = os.urandom(3).hex()  # ids differ between emulator instances
        self.batches = BatchRoutes(self.engine, self._instance, [EMULATED])
        self.conversations = MemoryConversations()
        self.responses = responses_dialect(self.conversations)
        self.gemini = GeminiRoutes(self.engine, self.stats, config.seed, self._chat, [EMULATED])
        self.batches.gemini.batches.caches = self.gemini.caches  # batch lines may name a context cache
        self.scripts = FaultScripts()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._route(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for callback in self.on_startup:
                    callback()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if GeminiBatchRoutes.owns(scope):  # before the Gemini and OpenAI routes: both share its prefixes
            await self.batches.gemini.handle(scope, receive, send, [EMULATED])
        elif GeminiRoutes.owns(path) or (path == "/v1/models" and header(scope, b"x-goog-api-key") is not None):
            await self.gemini.handle(scope, receive, send)
        elif method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            await self._chat(OPENAI, "/v1/chat/completions", scope, receive, send)
        elif method == "POST" and path == "/v1/messages":
            await self._chat(ANTHROPIC, "/v1/messages", scope, receive, send)
        elif method == "POST" and path in ("/v1/responses", "/responses"):
            await self._chat(self.responses, "/v1/responses", scope, receive, send)
        elif method in ("GET", "DELETE") and path.startswith("/v1/responses/"):
            await self._stored(scope, receive, send)
        elif method == "POST" and path == "/v1/messages/count_tokens":
            await self._count_tokens(scope, receive, send)
        elif method == "POST" and path in ("/v1/embeddings", "/embeddings"):
            await self._embeddings(scope, receive, send)
        elif method == "GET" and path in ("/v1/models", "/models"):
            await send_bytes(send, 200, self._models_body(header(scope, b"anthropic-version") is not None), [EMULATED])
        elif method == "GET" and path == "/health":
            await send_bytes(send, 200, b'{"status":"ok","emulated":true}', [EMULATED])
        elif GeminiRoutes.owns(path):
            await self.gemini.handle(scope, receive, send)
        elif BatchRoutes.owns(path):
            await self.batches.handle(scope, receive, send)
        elif method == "GET" and path == "/emulator/stats":
            stats = {**self.stats.snapshot(), "batch_billing": self.batches.billing.snapshot()}
            await send_bytes(send, 200, _json(stats).encode(), [EMULATED])
        else:
            body = _json(
                {
                    "error": {
                        "message": f"Unknown route {method} {path} (emulator)",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "unknown_url",
                    }
                }
            ).encode()
            await send_bytes(send, 404, body, [EMULATED])

    async def _chat(self, dialect: ChatRoute, route: str, scope: Scope, receive: Receive, send: Send) -> None:
        stats = self.stats
        stats.request(route)
        stats.in_flight += 1
        # Latency counts from the request's arrival when the server stamped it (ours does), so time the
        # request spent queued behind others in this process does not add to the emulated latency.
        started = scope.get(RECEIVED_AT)
        if started is None:
            started = asyncio.get_running_loop().time()
        request_id = f"req_emu_{self._instance}{next(self._serial):x}"
        base = [EMULATED, (dialect.request_id_header, request_id.encode())]
        if dialect.provider == "anthropic" and (beta := header(scope, b"anthropic-beta")):
            stats.betas[beta] += 1
        try:
            step = self._step(scope)
            outcome = await self._decide(dialect, route, scope, receive)
            if isinstance(step, Failure):
                outcome = step
            if isinstance(step, Step) and step.fails_before_answer and not isinstance(outcome, Failure):
                outcome = scripted_failure(step, outcome[0]) or outcome
            if isinstance(outcome, Failure):
                await self._fail(dialect, send, outcome, base, request_id)
            elif isinstance(step, Step) and step.kind == "reset":
                return  # nothing sent: the server closes the connection
            else:
                assert isinstance(step, Step)
                step = step if step != NO_FAULT else drawn_step(outcome[1].fault, self.config.faults)
                await self._deliver(dialect, *outcome, base, request_id, started, receive, send, step)
        except ClientGone:
            stats.answered(499)
        finally:
            stats.in_flight -= 1

    def _step(self, scope: Scope) -> Step | Failure:
        """This request's scripted fault (``x-emulator-fault``, see :mod:`.scripted`)."""
        value = header(scope, FAULT_HEADER)
        if not value:
            return NO_FAULT
        try:
            return self.scripts.next(value)
        except ValueError as exc:
            return Failure(400, "bad_request", message=str(exc), param=FAULT_HEADER.decode())

    async def _decide(
        self, dialect: ChatRoute, route: str, scope: Scope, receive: Receive
    ) -> Failure | tuple[ParsedCall, Plan]:
        body = await read_body(receive)
        self.stats.last_body[route] = body  # what a client (a gateway under test) actually sent
        key = dialect.api_key(scope)
        if not key:
            return Failure(401, "auth")
        data = calls.json_body(body)
        if isinstance(data, Failure):
            return data
        tenant = tenant_of(key)
        call = dialect.parse(data, tenant.hex())
        if isinstance(call, Failure):
            return call
        plan = self.engine.plan(dialect.provider, call, tenant)
        return plan if isinstance(plan, Failure) else (call, plan)

    async def _fail(
        self, dialect: ChatRoute, send: Send, failure: Failure, base: list[Header], request_id: str
    ) -> None:
        headers = list(base)
        if failure.decision is not None:
            headers += dialect.limit_headers(failure.decision)
            if dialect.provider != "gemini":  # Gemini says when to retry in the body (RetryInfo), not a header
                headers += retry_after_headers(failure.decision.retry_after_s)
        self.stats.answered(failure.status)
        await send_bytes(send, failure.status, dialect.error_body(failure, request_id), headers)

    async def _deliver(
        self,
        dialect: ChatRoute,
        call: ParsedCall,
        plan: Plan,
        base: list[Header],
        request_id: str,
        started: float,
        receive: Receive,
        send: Send,
        step: Step = NO_FAULT,
    ) -> None:
        stats, answer = self.stats, plan.answer
        headers = base + dialect.limit_headers(plan.limit)
        if answer.replayed:
            stats.replayed += 1
            headers.append((b"x-inferopt-replay", b"true"))
            if answer.replay_correct is not None:
                headers.append((b"x-inferopt-replay-correct", str(answer.replay_correct).encode()))
        if dialect.provider == "openai":
            headers.append((b"openai-processing-ms", str(round(plan.latency.total_s * 1000)).encode()))
        if step.kind == "hang":
            await self._hang(dialect, send, receive, base, request_id)
            return
        stats.answered(200, plan.profile.name)
        stats.usage(plan.prompt_tokens, answer.output_tokens, plan.cache.read)
        answer_id = dialect.id_prefix + request_id[8:]
        created = int(time.time())
        started += self.config.faults.slow_first_token_s + (step.fraction if step.kind == "slow" else 0.0)
        if not call.stream:
            await self._sleep_until(started + plan.latency.total_s)
            await self._whole(dialect.body(plan, answer_id, created), headers, step, receive, send)
            return
        stats.streamed += 1
        writer = dialect.writer(plan, answer_id, created, call.include_usage)
        schedule = stream_schedule(answer.text, plan.latency)
        cut_at = min(len(schedule), max(1, int(len(schedule) * step.fraction)))
        # A real provider stops generating when its client hangs up; so does the emulator.
        gone = asyncio.ensure_future(until_disconnect(receive))
        try:
            await self._sleep_until(started + plan.latency.ttft_s)
            await start_stream(send, headers)
            await send_piece(send, writer.first())
            if not await self._pieces(schedule[:cut_at], writer.content, started, send, gone):
                return
            if not await self._scripted_cut(step, dialect, send, gone):
                return
            if not await self._pieces(schedule[cut_at:], writer.content, started, send, gone):
                return
            await self._sleep_until(started + plan.latency.total_s)
            last = writer.last()
            await send_piece(send, without_final_marker(last) if step.kind == "no_done" else last)
            await end_stream(send)
        finally:
            gone.cancel()

    async def _pieces(
        self,
        schedule: list[tuple[float, str]],
        content: Callable[[str], bytes],
        started: float,
        send: Send,
        gone: asyncio.Future[None],
    ) -> bool:
        """Send each piece at its time; False when the client hung up (generation stops there)."""
        for at, piece in schedule:
            await self._sleep_until(started + at)
            if gone.done():
                self.stats.streams_abandoned += 1
                return False
            await send_piece(send, content(piece))
        return True

    async def _whole(self, body: bytes, headers: list[Header], step: Step, receive: Receive, send: Send) -> None:
        """A whole (unstreamed) answer, or the step's fault on it: cut, stalled part-way, or unparseable."""
        if step.kind == "malformed":
            await send_bytes(send, 200, body[: len(body) // 2], headers)  # complete HTTP, broken JSON
        elif step.kind in ("drop", "stall"):
            # Headers and part of the body; a drop then returns (the server closes the connection).
            await start_stream(send, headers, JSON_TYPE)
            await send_piece(send, body[: int(len(body) * step.fraction)])
            if step.kind == "stall":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(until_disconnect(receive), self.config.faults.hang_s)
        else:
            await send_bytes(send, 200, body, headers)

    async def _scripted_cut(self, step: Step, dialect: ChatRoute, send: Send, gone: asyncio.Future[None]) -> bool:
        """Play a scripted mid-stream fault; False when the stream ends here."""
        if step.kind == "malformed":
            await send_piece(send, MALFORMED)
        elif step.kind == "error_event":
            await send_piece(send, error_event(dialect.provider))
            await end_stream(send)
        elif step.kind == "stall":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(gone), self.config.faults.hang_s)
        return step.kind not in ("drop", "stall", "error_event")

    async def _hang(
        self, dialect: ChatRoute, send: Send, receive: Receive, base: list[Header], request_id: str
    ) -> None:
        """Answer nothing until the client gives up (or ``hang_s`` passes, then a 500)."""
        try:
            await asyncio.wait_for(until_disconnect(receive), self.config.faults.hang_s)
        except TimeoutError:
            await self._fail(dialect, send, Failure(500, "server_error"), base, request_id)
            return
        self.stats.answered(499)

    async def _sleep_until(self, deadline: float) -> None:
        # Deadlines are absolute (from when the request arrived) so latencies never drift.
        delay = deadline - asyncio.get_running_loop().time()
        if delay > 0:
            await self.config.sleep(delay)

    async def _stored(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.stats.request("/v1/responses/{id}")
        key = _bearer(scope)
        if not key:
            self.stats.answered(401)
            await send_bytes(send, 401, wire_openai.error_body(Failure(401, "auth")), [EMULATED])
            return
        scope_name = tenant_of(key).hex()
        status, body = wire_responses.stored(self.conversations, scope_name, scope["method"], scope["path"])
        self.stats.answered(status)
        await send_bytes(send, status, body, [EMULATED])

    async def _count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.stats.request("/v1/messages/count_tokens")
        request_id = f"req_emu_{self._instance}{next(self._serial):x}"
        base = [EMULATED, (b"request-id", request_id.encode())]
        try:
            outcome = self._counted(scope, await read_body(receive))
        except ClientGone:
            self.stats.answered(499)
            return
        if isinstance(outcome, Failure):
            await self._fail(ANTHROPIC, send, outcome, base, request_id)
            return
        self.stats.answered(200)
        await send_bytes(send, 200, _json({"input_tokens": outcome}).encode(), base)

    async def _embeddings(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.stats.request("/v1/embeddings")
        request_id = f"req_emu_{self._instance}{next(self._serial):x}"
        base = [EMULATED, (b"x-request-id", request_id.encode())]
        try:
            body = await read_body(receive)
        except ClientGone:
            self.stats.answered(499)
            return
        self.stats.last_body["/v1/embeddings"] = body
        data = calls.json_body(body) if _bearer(scope) else Failure(401, "auth")
        step = self._step(scope)  # x-emulator-fault: 429s and 5xx apply to embeddings too
        if isinstance(step, Failure):
            data = step
        elif step.fails_before_answer and step.kind not in ("content_filter", "no_prefill"):
            data = status_failure(step, str(data.get("model", "")) if isinstance(data, dict) else "")
        outcome = data if isinstance(data, Failure) else embeddings.embed(data, self.config.seed)
        if isinstance(outcome, Failure):
            await self._fail(OPENAI, send, outcome, base, request_id)
            return
        self.stats.answered(200, outcome.model)
        self.stats.usage(outcome.prompt_tokens, 0, 0)
        await send_bytes(send, 200, outcome.body, base)

    def _counted(self, scope: Scope, body: bytes) -> Failure | int:
        """The prompt tokens of a ``count_tokens`` body, or why it cannot be counted."""
        if not _anthropic_key(scope):
            return Failure(401, "auth")
        data = calls.json_body(body)
        if isinstance(data, Failure):
            return data
        call = calls.counted_call(data)
        if isinstance(call, Failure):
            return call
        if self.engine.profiles.lookup(call.model, "anthropic") is None:
            return Failure(
                404, "unknown_model", model=call.model, known_models=tuple(self.engine.profiles.names("anthropic"))
            )
        return call.prompt_tokens

    def _models_body(self, anthropic_format: bool) -> bytes:
        profiles = self.engine.profiles
        if anthropic_format:
            names = profiles.names("anthropic")
            data: list[dict[str, Any]] = [
                {"type": "model", "id": n, "display_name": n, "created_at": "2025-01-01T00:00:00Z"} for n in names
            ]
            return _json(
                {
                    "data": data,
                    "has_more": False,
                    "first_id": names[0] if names else None,
                    "last_id": names[-1] if names else None,
                }
            ).encode()
        data = [
            {"id": n, "object": "model", "created": 0, "owned_by": "inferopt-emulator"}
            for n in sorted(profiles.names("openai") + embeddings.model_names())
        ]
        return _json({"object": "list", "data": data}).encode()


def create_app(config: EmulatorConfig | None = None) -> EmulatorApp:
    """The emulator's ASGI app for ``config`` (defaults: seed 0, shipped profiles, no replay)."""
    return EmulatorApp(config if config is not None else EmulatorConfig())
