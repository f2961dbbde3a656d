"""The gateway's ``POST /v1/embeddings``: checked and mapped by :mod:`inferopt.wire.openai_embeddings`,
answered by :meth:`inferopt.client.AsyncClient.embed`.

So the config's aliases, its ``cache`` layer (per input item: only inputs never embedded before
go upstream) and pricing apply as in the library. A key's models, budget and RPM/TPM apply as in
chat; its ``cache_namespace`` scopes its vectors, as it scopes its chat answers. Headers say what
happened (``x-inferopt-cost-usd``, ``x-inferopt-cache``: hit, partial, miss; ``x-inferopt-cache-hits``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from inferopt.embeddings.types import EmbeddingRequest, EmbeddingResponse
from inferopt.errors import InferoptError, redact
from inferopt.gateway.asgi import ClientGone, Receive, Scope, Send, header, send_bytes
from inferopt.gateway.dialects import answer_headers, cache_result
from inferopt.gateway.keys import Reservation, VirtualKey
from inferopt.gateway.problems import Problem, invalid, problem_for
from inferopt.gateway.usage import price_or_zero
from inferopt.gateway.validation import parse_json_object
from inferopt.tokens import count_tokens
from inferopt.types import Usage
from inferopt.wire import openai_embeddings as wire
from inferopt.wire.sse import dumps

if TYPE_CHECKING:
    from inferopt.client import AsyncClient
    from inferopt.gateway.keys import KeyStore
    from inferopt.gateway.metrics import GatewayMetrics


class Gateway(Protocol):
    """What the route needs of the gateway app (its client, keys, metrics, clocks, auth and body)."""

    client: AsyncClient
    keys: KeyStore | None
    metrics: GatewayMetrics

    def _timer(self) -> float: ...
    def _clock(self) -> float: ...
    async def _authenticate(self, scope: Scope) -> VirtualKey | Problem | None: ...
    async def _read(self, scope: Scope, receive: Receive) -> bytes | Problem: ...


ROUTE = "/v1/embeddings"
log = logging.getLogger("inferopt.gateway")


@dataclass(slots=True)
class EmbeddingCall:
    """A checked embeddings call: the neutral request and the encoding the caller wants back."""

    request: EmbeddingRequest
    encoding_format: str


def parse(body: bytes) -> EmbeddingCall | Problem:
    data = parse_json_object(body)
    if isinstance(data, Problem):
        return data
    problem = wire.problem_of(data)
    if problem is not None:
        return invalid(problem.message, param=problem.param)
    return EmbeddingCall(wire.decode_request(data), data.get("encoding_format") or "float")


def input_tokens(request: EmbeddingRequest) -> int:
    return sum(len(i) if isinstance(i, list) else count_tokens(i, request.model) for i in request.inputs)


def response_body(response: EmbeddingResponse, call: EmbeddingCall) -> bytes:
    return dumps(wire.encode_response(response, call.encoding_format)).encode()


class EmbeddingsRoute:
    """The route's handler over the gateway's client, keys and metrics."""

    def __init__(self, app: Gateway) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app, metrics = self.app, self.app.metrics
        started = app._timer()
        metrics.in_flight += 1
        model, status, response = "-", 500, None
        try:
            key = await app._authenticate(scope)
            body = await app._read(scope, receive)
            call = body if isinstance(body, Problem) else parse(body)
            problem = key if isinstance(key, Problem) else call if isinstance(call, Problem) else None
            if problem is not None:
                status = await self._refuse(send, problem)
                return
            assert isinstance(call, EmbeddingCall) and not isinstance(key, Problem)
            mode = header(scope, b"x-inferopt-cache")
            if mode in ("bypass", "refresh", "use"):
                call.request.options["cache"] = mode
            status, response = await self._answer(call, key, send)
            model = call.request.model if status != 404 else "(unknown)"
        except ClientGone:
            status = 499
        finally:
            metrics.in_flight -= 1
            metrics.record(
                ROUTE,
                model,
                status,
                app._timer() - started,
                cost_usd=response.cost_usd if response is not None else None,
                input_tokens=response.usage.input_tokens if response is not None else 0,
                cache=cache_result(response),
            )

    async def _refuse(self, send: Send, problem: Problem) -> int:
        await send_bytes(send, problem.status, problem.openai_body(), problem.headers())
        return problem.status

    async def _answer(
        self, call: EmbeddingCall, key: VirtualKey | None, send: Send
    ) -> tuple[int, EmbeddingResponse | None]:
        app, request = self.app, call.request
        reservation: Reservation | None = None
        try:
            route = app.client.resolve(request.model)
            if key is not None and app.keys is not None:
                key.check_model(request.model)
                tokens = input_tokens(request)
                usd = price_or_zero(Usage(tokens), route.model, app.client.embedding_catalog)
                reservation = await app.keys.admit(key, usd, tokens, app._clock())
                request.options["namespace"] = key.namespace  # a tenant reads only its own answers
            response = await app.client.embed(request)
        except Exception as exc:
            if not isinstance(exc, InferoptError):
                app_log(exc)
            if reservation is not None and app.keys is not None:
                await app.keys.settle(reservation, 0.0, 0)
            return await self._refuse(send, problem_for(exc)), None
        if reservation is not None and app.keys is not None:
            await app.keys.settle(reservation, response.cost_usd or 0.0, response.usage.input_tokens)
        await send_bytes(send, 200, response_body(response, call), answer_headers(response))
        return 200, response


def app_log(exc: Exception) -> None:
    log.error("gateway error on %s: %s", ROUTE, redact(repr(exc)))
