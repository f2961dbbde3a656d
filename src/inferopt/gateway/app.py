"""The gateway as a plain ASGI application: every optimization behind one ``base_url``.

Routes::

    POST /v1/chat/completions   OpenAI wire format, streamed or not
    POST /v1/embeddings         OpenAI embeddings (gateway/embedding_routes.py)
    POST /v1/messages           Anthropic wire format, streamed or not
    POST /v1/messages/count_tokens   Anthropic's token count, counted locally (no upstream call)
    GET  /v1/models             the model names callers may use
    GET  /health                {"status": "ok"}
    GET  /metrics               Prometheus text
    GET  /dashboard             a live page; its numbers come from GET /dashboard/data

Every chat call goes through :class:`inferopt.client.AsyncClient`, so the config's aliases, its
``stack`` (cache, routing, limits, retries, fallbacks) and pricing apply as in the library.
Response headers say what happened: ``x-inferopt-model`` (who answered), ``x-inferopt-provider``,
``x-inferopt-cost-usd``, ``x-inferopt-upstream-ms``, ``x-inferopt-cache`` (hit/miss when a cache
looked) and one ``x-inferopt-<name>`` per scalar annotation a wrapper left (e.g. ``attempts``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from inferopt.client import AsyncClient
from inferopt.conversations import Conversations, MemoryConversations
from inferopt.errors import InferoptError, redact
from inferopt.gateway import anthropic_routes, choices, gemini_routes, openai_routes, responses_routes
from inferopt.gateway.answering import FIRST_EVENT_OPTION, Answering, LazyWriter
from inferopt.gateway.asgi import (
    BodyTooLarge,
    ClientGone,
    Header,
    Receive,
    Scope,
    Send,
    content_length,
    header,
    query_param,
    read_body,
    send_bytes,
)
from inferopt.gateway.dashboard import DASHBOARD_HTML_TYPE, dashboard_html
from inferopt.gateway.dialects import (
    ANTHROPIC,
    ANTHROPIC_COUNT,
    OPENAI,
    Dialect,
    adapted_headers,
    answer_headers,
    cache_result,
    gemini_dialect,
    header_value,
    responses_dialect,
)
from inferopt.gateway.embedding_routes import EmbeddingsRoute
from inferopt.gateway.gemini_caches import GeminiCacheRoutes
from inferopt.gateway.keys import KeyStore, Reservation, VirtualKey
from inferopt.gateway.metrics import GatewayMetrics
from inferopt.gateway.metrics_share import SharedMetrics
from inferopt.gateway.problems import Problem, problem_for
from inferopt.gateway.sse import relay
from inferopt.gateway.usage import Estimate, estimate_of, settled_cost
from inferopt.gateway.validation import ParsedChat, RequestLimits
from inferopt.parallel.retry import RATE_LIMITS_TO_CALLER
from inferopt.providers.anthropic import ANTHROPIC_BETA_OPTION
from inferopt.tokens import count_request_tokens
from inferopt.types import ChatResponse
from inferopt.wire.sse import dumps as _json

log = logging.getLogger("inferopt.gateway")
_TEXT_TYPE: Header = (b"content-type", b"text/plain; version=0.0.4; charset=utf-8")
_CACHE_MODES = ("bypass", "refresh", "use")


class GatewayApp:
    """The ASGI callable. ``keys=None`` serves anyone (a local gateway); with a store every call needs a key."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        keys: KeyStore | None = None,
        limits: RequestLimits | None = None,
        metrics: GatewayMetrics | None = None,
        shared_metrics: SharedMetrics | None = None,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
        default_output_tokens: int = 1024,
        conversations: Conversations | None = None,
    ) -> None:
        self.client = client
        self.keys = keys
        self.limits = limits or RequestLimits()
        self.metrics = metrics or GatewayMetrics(clock)
        self.shared_metrics = shared_metrics
        self._publishing: asyncio.Task[None] | None = None
        self._clock = clock
        self._timer = timer
        self._default_output_tokens = default_output_tokens
        self.conversations = conversations or MemoryConversations()
        self.responses = responses_dialect(self.conversations)
        self.gemini_caches = GeminiCacheRoutes(client)
        self._routes: dict[tuple[str, str], Callable[[Scope, Receive, Send], Any]] = {
            ("POST", "/v1/chat/completions"): lambda s, r, w: self._chat(OPENAI, s, r, w),
            ("POST", "/chat/completions"): lambda s, r, w: self._chat(OPENAI, s, r, w),
            ("POST", "/v1/messages"): lambda s, r, w: self._chat(ANTHROPIC, s, r, w),
            ("POST", "/v1/responses"): lambda s, r, w: self._chat(self.responses, s, r, w),
            ("POST", "/responses"): lambda s, r, w: self._chat(self.responses, s, r, w),
            ("POST", "/v1/embeddings"): EmbeddingsRoute(self),
            ("POST", "/embeddings"): EmbeddingsRoute(self),
            ("POST", "/v1/messages/count_tokens"): self._count_tokens,
            ("GET", "/v1/models"): self._models,
            ("GET", "/models"): self._models,
            ("GET", "/health"): self._health,
            ("GET", "/metrics"): self._metrics,
            ("GET", "/dashboard"): self._dashboard,
            ("GET", "/dashboard/data"): self._dashboard_data,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self._routes.get((scope["method"], scope["path"])) or self._stored_route(scope)
            if handler is None:
                problem = Problem(404, f"unknown route {scope['method']} {scope['path']}", code="unknown_url")
                await send_bytes(send, 404, problem.openai_body())
                return
            await handler(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.shared_metrics is not None:
                    self._publishing = asyncio.create_task(self.shared_metrics.publish_every(self.metrics.counters))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._publishing is not None and self.shared_metrics is not None:
                    self._publishing.cancel()
                    self.shared_metrics.withdraw()
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.keys is not None:
            await self.keys.aclose()

    async def _authenticate(self, scope: Scope) -> VirtualKey | Problem | None:
        if self.keys is None:
            return None
        auth = header(scope, b"authorization")
        secret = auth[7:].strip() if auth and auth[:7].lower() == "bearer " else header(scope, b"x-api-key")
        secret = secret or header(scope, b"x-goog-api-key")  # the google-genai SDK's api_key
        if not secret and str(scope["path"]).startswith("/v1beta/"):
            # Gemini's REST examples put the key in the URL (?key=); the path the gateway logs and
            # traces is scope["path"], which never holds the query string, so the key is not logged.
            secret = query_param(scope, "key")
        if not secret:
            return Problem(
                401,
                "missing API key: send your gateway key as 'Authorization: Bearer sk-io-...' "
                "(the OpenAI SDK's api_key), 'x-api-key' (the Anthropic SDK's), 'x-goog-api-key' (google-genai's) "
                "or ?key= on Gemini paths",
                code="missing_api_key",
            )
        try:
            key = await self.keys.lookup(secret)
        except InferoptError as exc:  # the key store is down: a 503 JSON error naming it, never a bare 500
            return problem_for(exc)
        except Exception as exc:  # e.g. a SQLite store locked or unreadable: still a JSON error, logged
            log.error("key store error: %s", redact(repr(exc)))
            return problem_for(exc)
        if key is None:
            return Problem(
                401, "invalid API key: unknown or revoked; ask the gateway operator for a key", code="invalid_api_key"
            )
        return key

    async def _chat(self, dialect: Dialect, scope: Scope, receive: Receive, send: Send) -> None:
        started = self._timer()
        metrics = self.metrics
        metrics.in_flight += 1
        model, status, response = "-", 500, None
        try:
            key = await self._authenticate(scope)
            parsed = await self._parse(dialect, scope, receive)
            if isinstance(key, Problem) or isinstance(parsed, Problem):
                problem = key if isinstance(key, Problem) else parsed
                assert isinstance(problem, Problem)
                status = await self._refuse(dialect, send, problem)
                return
            tenant = tenant_of(key)
            if dialect.prepare is not None and (refusal := await dialect.prepare(parsed, tenant)) is not None:
                status = await self._refuse(dialect, send, refusal)
                return
            status, response = await self._answer(dialect, parsed, key, scope, receive, send)
            if status == 200 and dialect.keep is not None:
                await dialect.keep(parsed, tenant)
            # A name nobody knows is not a metrics label: clients could otherwise grow the series without bound.
            model = parsed.request.model if status != 404 else "(unknown)"
        except ClientGone:
            status = 499
        finally:
            metrics.in_flight -= 1
            usage = response.usage if response is not None else None
            metrics.record(
                dialect.route,
                model,
                status,
                self._timer() - started,
                cost_usd=response.cost_usd if response is not None else None,
                input_tokens=usage.input_tokens if usage else 0,
                output_tokens=usage.output_tokens if usage else 0,
                cache_read_tokens=usage.cache_read_tokens if usage else 0,
                cache=cache_result(response),
                limiter_local=limited_locally(response),
            )

    async def _parse(self, dialect: Dialect, scope: Scope, receive: Receive) -> ParsedChat | Problem:
        body = await self._read(scope, receive)
        if isinstance(body, Problem):
            return body
        parsed = dialect.parse(body, self.limits)
        if not isinstance(parsed, Problem):
            mode = header(scope, b"x-inferopt-cache")
            if mode in _CACHE_MODES:
                parsed.request.options["cache"] = mode
            beta = header(scope, b"anthropic-beta")
            if beta:  # passed to an Anthropic upstream as is (other upstreams ignore it)
                parsed.request.options[ANTHROPIC_BETA_OPTION] = beta[:1000]
        return parsed

    async def _read(self, scope: Scope, receive: Receive) -> bytes | Problem:
        """The request body, or a 413 when it is over the limit."""
        declared = content_length(scope)
        limit = self.limits.max_body_bytes
        too_large = Problem(
            413, f"request body too large (limit {limit} bytes); send a shorter prompt", code="request_too_large"
        )
        if declared is not None and declared > limit:
            return too_large
        try:
            return await read_body(receive, limit)
        except BodyTooLarge:
            return too_large

    async def _refuse(self, dialect: Dialect, send: Send, problem: Problem) -> int:
        await send_bytes(send, problem.status, dialect.error_body(problem), problem.headers())
        return problem.status

    async def _answer(
        self,
        dialect: Dialect,
        parsed: ParsedChat,
        key: VirtualKey | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> tuple[int, ChatResponse | None]:
        request = parsed.request
        reservation: Reservation | None = None
        estimate: Estimate | None = None
        try:
            route = self.client.resolve(request.model)
            request.options[RATE_LIMITS_TO_CALLER] = True  # a client's SDK waits out a Retry-After itself
            if key is not None and self.keys is not None:
                key.check_model(request.model)
                estimate = estimate_of(request, route.model, self.client.catalog, self._default_output_tokens)
                estimate = estimate.times(parsed.n)  # each of n choices may spend as much
                reservation = await self.keys.admit(key, estimate.usd, estimate.tokens, self._clock())
                request.options["namespace"] = key.namespace  # a tenant reads only its own answers
            if parsed.stream:
                return await self._stream(dialect, parsed, route.model, estimate, reservation, receive, send)
            if parsed.n > 1:
                answers = await choices.complete_all(self.client.complete, choices.copies(request, parsed.n))
                response, body = choices.merged(answers), choices.completion_body(answers)
            else:
                response = await self.client.complete(request)
                body = dialect.body(response, parsed)
        except InferoptError as exc:  # a refusal the caller can act on: bad model, over budget, upstream error
            if reservation is not None and self.keys is not None:
                await self.keys.settle(reservation, 0.0, 0)
            return await self._refuse(dialect, send, problem_for(exc)), None
        except Exception as exc:
            log.error("gateway error on %s: %s", dialect.route, redact(repr(exc)))
            if reservation is not None and self.keys is not None:
                await self.keys.settle(reservation, 0.0, 0)
            return await self._refuse(dialect, send, problem_for(exc)), None
        if reservation is not None and self.keys is not None:
            await self.keys.settle(reservation, response.cost_usd or 0.0, response.usage.total_tokens)
        await send_bytes(send, 200, body, answer_headers(response))
        return 200, response

    async def _stream(
        self,
        dialect: Dialect,
        parsed: ParsedChat,
        served_model: str,
        estimate: Estimate | None,
        reservation: Reservation | None,
        receive: Receive,
        send: Send,
    ) -> tuple[int, ChatResponse | None]:
        answering = parsed.request.options[FIRST_EVENT_OPTION] = Answering(served_model)
        if parsed.n > 1:
            fan = choices.FanOut(parsed.n)
            events = choices.interleave([self.client.stream(r) for r in choices.copies(parsed.request, parsed.n)], fan)
            writer = LazyWriter(lambda: choices.ChoicesWriter(answering.model, parsed.include_usage, fan))
        else:
            events = self.client.stream(parsed.request)
            writer = LazyWriter(lambda: dialect.writer(answering.model, parsed))

        def headers(done: ChatResponse | None) -> list[Header]:
            if done is not None:
                return answer_headers(done)
            return [(b"x-inferopt-model", header_value(answering.model)), *adapted_headers(parsed.request)]

        async def refuse(problem: Problem) -> None:
            await self._refuse(dialect, send, problem)

        outcome = None
        try:
            outcome = await relay(
                events,
                writer,
                send,
                receive,
                headers,
                refuse,
                dialect.error_payload,
            )
        finally:
            if outcome is not None:
                self.metrics.streams_cancelled += outcome.cancelled
                self.metrics.streams_failed += outcome.started and outcome.problem is not None
                self.metrics.streams_rescued += bool(outcome.response and outcome.response.annotations.get("rescued"))
            if reservation is not None and self.keys is not None and estimate is not None:
                usd, tokens = settled_cost(outcome, estimate, served_model, self.client.catalog)
                await self.keys.settle(reservation, usd, tokens)
        return outcome.status, outcome.response

    async def _count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Anthropic's ``count_tokens``, counted here (``x-inferopt-token-count: local``): no upstream call."""
        await self._count_locally(ANTHROPIC_COUNT, anthropic_routes.count_body, scope, receive, send)

    async def _count_gemini(self, model: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Gemini's ``countTokens``, counted here as Anthropic's is."""
        dialect = replace(gemini_dialect(model, False), parse=gemini_routes.count_parser(model))
        await self._count_locally(dialect, gemini_routes.count_body, scope, receive, send)

    async def _count_locally(
        self, dialect: Dialect, body: Callable[[int], bytes], scope: Scope, receive: Receive, send: Send
    ) -> None:
        key = await self._authenticate(scope)
        parsed = await self._parse(dialect, scope, receive)
        problem = key if isinstance(key, Problem) else parsed if isinstance(parsed, Problem) else None
        if problem is not None:
            await self._refuse(dialect, send, problem)
            return
        assert isinstance(parsed, ParsedChat)
        tokens = count_request_tokens(parsed.request)
        await send_bytes(send, 200, body(tokens), [(b"x-inferopt-token-count", b"local")])

    def _stored_route(self, scope: Scope) -> Callable[[Scope, Receive, Send], Any] | None:
        """Routes with a name in the path: Gemini's ``POST /v1beta/models/{model}:generateContent``
        (and ``:streamGenerateContent``) and ``cachedContents[/{id}]``, ``GET``/``DELETE /v1/responses/{id}``
        and its ``/input_items``."""
        cache_id = GeminiCacheRoutes.match(str(scope["path"]))
        if cache_id is not None:
            return lambda s, r, w: self._gemini_cache(cache_id, s, r, w)
        gemini = gemini_routes.match(str(scope["path"])) if scope["method"] == "POST" else None
        if gemini is not None:
            model, verb = gemini
            if verb == "countTokens":
                return lambda s, r, w: self._count_gemini(model, s, r, w)
            dialect = replace(gemini_dialect(model, verb == "streamGenerateContent"), prepare=self.gemini_caches.check)
            return lambda s, r, w: self._chat(dialect, s, r, w)
        path = str(scope["path"]).removeprefix("/v1")
        if not path.startswith("/responses/") or scope["method"] not in ("GET", "DELETE"):
            return None
        response_id, _, rest = path.removeprefix("/responses/").partition("/")
        if not response_id or rest not in ("", "input_items") or (rest and scope["method"] != "GET"):
            return None
        return lambda s, r, w: self._stored(response_id, rest == "input_items", s, w)

    async def _gemini_cache(self, cache_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Gemini's ``cachedContents``, forwarded upstream and kept per tenant (``gemini_caches.py``)."""
        key = await self._authenticate(scope)
        body = await self._read(scope, receive)
        problem = key if isinstance(key, Problem) else body if isinstance(body, Problem) else None
        if problem is not None:
            await send_bytes(send, problem.status, gemini_routes.error_body(problem), problem.headers())
            return
        assert isinstance(body, bytes) and not isinstance(key, Problem)
        status, answer = await self.gemini_caches.handle(tenant_of(key), scope["method"], cache_id, body)
        await send_bytes(send, status, answer)

    async def _stored(self, response_id: str, items: bool, scope: Scope, send: Send) -> None:
        key = await self._authenticate(scope)
        if isinstance(key, Problem):
            await send_bytes(send, key.status, key.openai_body())
            return
        tenant = tenant_of(key)
        if scope["method"] == "DELETE":
            found = await self.conversations.delete(tenant, response_id)
            body = responses_routes.deleted_body(response_id) if found else None
        else:
            record = await self.conversations.get(tenant, response_id)
            body = None if record is None else responses_routes.stored_body(record, items)
        if body is None:
            problem = responses_routes.not_found(response_id)
            await send_bytes(send, problem.status, problem.openai_body())
            return
        await send_bytes(send, 200, body)

    async def _models(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = await self._authenticate(scope)
        if isinstance(key, Problem):
            await send_bytes(send, key.status, key.openai_body())
            return
        names = model_names(self.client)
        if key is not None:
            names = [n for n in names if key.allows(n)]
        await send_bytes(send, 200, openai_routes.models_body(names))

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_bytes(send, 200, b'{"status":"ok"}')

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        others = self.shared_metrics.others() if self.shared_metrics is not None else ()
        await send_bytes(send, 200, self.metrics.prometheus_text(others).encode(), content_type=_TEXT_TYPE)

    async def _dashboard(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_bytes(send, 200, dashboard_html(), content_type=DASHBOARD_HTML_TYPE)

    async def _dashboard_data(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_bytes(send, 200, _json(self.metrics.snapshot()).encode(), [(b"cache-control", b"no-store")])


def limited_locally(response: ChatResponse | None) -> bool:
    """Whether the rate limiter let this answer through on its local buckets (the shared Redis was down).
    A cache hit was not limited at all: the note it carries is the stored answer's."""
    if response is None or response.cache in ("hit", "semantic_hit"):
        return False
    return response.annotations.get("limiter") == "local"


def tenant_of(key: VirtualKey | None) -> str:
    """Whose stored state a call may see: its key's cache namespace, else the key itself."""
    if key is None:
        return ""
    return key.cache_namespace or f"key:{key.id}"


def model_names(client: AsyncClient) -> list[str]:
    """Aliases from the config; with the emulator alone, every model the emulator knows (embeddings too)."""
    names = list(client.config.models)
    if client.config.is_emulated:
        from inferopt.emulator import embeddings, load_profiles

        names += load_profiles().names() + embeddings.model_names()
    return sorted(set(names))
