"""What every HTTP provider adapter shares: the connection object and error mapping.

A :class:`Provider` holds where and how to connect (base URL, key, timeout, the pooled
``httpx.AsyncClient``); an adapter (``OpenAIChatModel``, ``AnthropicModel``) turns the neutral
``ChatRequest`` into one provider's wire format over it. One provider serves many adapters and
many model names; credentials never live in an adapter.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn, Protocol

import httpx

from inferopt.errors import (
    AuthenticationError,
    ContextWindowExceededError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderTimeoutError,
    RateLimitedError,
    ServerError,
    redact,
)
from inferopt.providers.http import HttpResponse, HttpSession, HttpxSession, Timeouts, TransportFailure
from inferopt.providers.http1 import Http1Session
from inferopt.providers.proxy import proxy_for
from inferopt.tokens import count_request_tokens, count_tokens
from inferopt.types import ChatRequest, ChatResponse, StreamDone, StreamEvent
from inferopt.wire.common import ErrorDetail, Refused, StreamErrorEvent, WireError
from inferopt.wire.sse import Decoder, ServerSentEvent

EMULATED_HEADER = "x-inferopt-emulated"
log = logging.getLogger("inferopt.providers")


@dataclass(eq=False)
class Provider:
    """Where and how to reach one provider account.

    ``api_key`` is never part of ``repr`` or any error message. ``transport`` lets tests and the
    in-process emulator inject an ``httpx`` transport. ``proxy`` is an HTTP proxy URL ('' for none;
    None: the environment's, see :func:`~inferopt.providers.proxy.proxy_for`).
    """

    name: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 600.0
    connect_timeout_s: float = 10.0
    max_connections: int = 1000
    headers: dict[str, str] = field(default_factory=dict)
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)
    proxy: str | None = field(default=None, repr=False)  # its URL may hold credentials
    _client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)
    _http: HttpSession | None = field(default=None, init=False, repr=False)

    @property
    def http(self) -> HttpSession:
        """The session chat adapters use: our HTTP/1.1 client, or httpx over an injected transport or a proxy."""
        if self._http is None:
            timeouts = Timeouts(read_s=self.timeout_s, connect_s=self.connect_timeout_s)
            transport = self._transport()
            if transport is not None:
                self._http = HttpxSession(
                    self.base_url,
                    timeouts,
                    transport=transport,
                    max_connections=self.max_connections,
                    headers=self.headers,
                )
            else:
                self._http = Http1Session(
                    self.base_url, timeouts, max_connections=self.max_connections, headers=self.headers
                )
        return self._http

    @property
    def client(self) -> httpx.AsyncClient:
        """A pooled httpx client for non-chat endpoints (files, batches), created on first use."""
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                base_url=self.base_url.rstrip("/"),
                timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
                limits=httpx.Limits(
                    max_connections=self.max_connections,
                    max_keepalive_connections=self.max_connections,
                ),
                headers=self.headers,
                transport=self._transport(),
            )
        return self._client

    def _transport(self) -> httpx.AsyncBaseTransport | None:
        if self.transport is None:
            proxy = proxy_for(self.base_url, self.proxy)
            if proxy is not None:
                self.transport = httpx.AsyncHTTPTransport(
                    proxy=proxy, limits=httpx.Limits(max_connections=self.max_connections)
                )
        return self.transport

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def redact(self, text: str) -> str:
        return redact(text, (self.api_key,) if self.api_key else ())


def parse_retry_after(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return None if parsed is None else max(0.0, parsed.timestamp() - now())


def http_error(
    provider: Provider,
    model: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    detail: ErrorDetail,
    request_id: str | None,
) -> ProviderHTTPError:
    """Map an error status and the provider's parsed error body to our exception tree."""
    message = provider.redact(detail.message)
    text = provider.redact(body.decode("utf-8", "replace")[:2000])
    common: dict[str, Any] = {
        "status": status,
        "provider": provider.name,
        "model": model,
        "request_id": request_id,
        "error_type": detail.code or detail.type,
        "body": text,
    }
    low = f"{detail.code} {detail.type} {message}".lower()
    if status == 429:
        return RateLimitedError(message, retry_after=parse_retry_after(headers), **common)
    if status in (401, 403):
        return AuthenticationError(
            f"{message} (check the API key environment variable of provider {provider.name!r})", **common
        )
    if status in (400, 413) and (
        "context_length" in low or "too long" in low or "context window" in low or "maximum context" in low
    ):
        return ContextWindowExceededError(message, **common)
    if status >= 500:
        return ServerError(message, **common)
    return ProviderHTTPError(message, **common)


def transport_error(provider: Provider, model: str, exc: TransportFailure) -> ProviderError:
    """Map a transport failure (timeout, refused, reset, dropped) to our exception tree."""
    what = provider.redact(str(exc)) or exc.kind
    if exc.kind == "timeout":
        return ProviderTimeoutError(
            f"{provider.name}: no answer within the timeout ({what})", provider=provider.name, model=model
        )
    return ProviderConnectionError(
        f"{provider.name}: connection failed ({exc.kind}: {what}); is {provider.base_url} reachable?",
        provider=provider.name,
        model=model,
    )


def wire_error(provider: Provider, model: str, exc: WireError) -> ProviderError:
    """The one boundary where a codec's private failure becomes an error of the public tree."""
    if isinstance(exc, Refused):  # the provider's own refusal, as final as a 400
        return ProviderHTTPError(
            provider.redact(str(exc)), status=400, provider=provider.name, model=model, error_type="content_filter"
        )
    if isinstance(exc, StreamErrorEvent):
        kind = f" ({exc.detail.type})" if exc.detail.type else ""
        return ProviderError(
            f"{provider.name} stream error{kind}: {provider.redact(exc.detail.message)}",
            provider=provider.name,
            model=model,
        )
    return ProviderProtocolError(f"{provider.name}: {provider.redact(str(exc))}", provider=provider.name, model=model)


def parse_json(provider: Provider, model: str, body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ProviderProtocolError(
            f"{provider.name} sent a body that is not JSON: {body[:200]!r}",
            provider=provider.name,
            model=model,
        ) from exc
    if not isinstance(data, dict):
        raise ProviderProtocolError(
            f"{provider.name} sent JSON that is not an object", provider=provider.name, model=model
        )
    return data


async def iter_sse(response: HttpResponse) -> AsyncIterator[ServerSentEvent]:
    """The server-sent events of a streamed body (the I/O driver of :class:`~inferopt.wire.sse.Decoder`)."""
    decoder = Decoder()
    async for line in response.aiter_lines():
        if (event := decoder.feed_line(line)) is not None:
            yield event
    for event in decoder.close():
        yield event


class WireStreamDecoder(Protocol):
    """What a wire's stream decoder offers the driver (see :mod:`inferopt.wire`)."""

    @property
    def done(self) -> bool: ...

    @property
    def complete(self) -> bool: ...

    def result(self) -> ChatResponse: ...

    def partial(self) -> ChatResponse: ...


def _attach_partial(error: ProviderError, decoder: WireStreamDecoder, request: ChatRequest) -> None:
    """Attach what the stream delivered before failing, its usage estimated when the provider sent none."""
    partial = decoder.partial()
    partial.finish_reason = "error"
    if not partial.usage.input_tokens:
        partial.usage.input_tokens = count_request_tokens(request)
    if not partial.usage.output_tokens or partial.usage.output_tokens <= 1:
        arguments = "".join(c["function"]["arguments"] for c in partial.tool_calls or ())
        partial.usage.output_tokens = count_tokens(partial.content + arguments, request.model)
    error.partial = partial


class HTTPChatModel:
    """What both wire adapters share: POST a JSON body, map errors, open a streamed response.

    Subclasses set ``path`` and ``request_id_header`` and provide ``_headers``, ``_body``,
    ``_error_detail``, ``_decode`` (a JSON answer) and ``_decoder`` / ``_feed`` (a stream); the wire
    knowledge is all in :mod:`inferopt.wire`, this class is the I/O around it.
    """

    path: ClassVar[str]
    request_id_header: ClassVar[str]

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _request_headers(self, request: ChatRequest) -> dict[str, str]:
        """The headers of one call: the adapter's own, plus what the request asks for (Anthropic's betas)."""
        return self._headers()

    def _path(self, request: ChatRequest, stream: bool) -> str:
        """Where to POST ``request`` (Gemini names the model and the streaming in the path)."""
        return self.path

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def _error_detail(self, body: bytes) -> ErrorDetail:
        raise NotImplementedError

    def _decode(self, data: dict[str, Any], model: str) -> ChatResponse:
        raise NotImplementedError

    def _decoder(self, model: str) -> WireStreamDecoder:
        raise NotImplementedError

    def _feed(self, decoder: Any, event: ServerSentEvent) -> Iterable[StreamEvent]:
        raise NotImplementedError

    def _raise_for(self, request: ChatRequest, status: int, headers: Mapping[str, str], body: bytes) -> NoReturn:
        raise http_error(
            self.provider,
            request.model,
            status,
            headers,
            body,
            self._error_detail(body),
            headers.get(self.request_id_header),
        )

    async def _post(self, request: ChatRequest) -> tuple[Mapping[str, str], dict[str, Any]]:
        """Send the request unstreamed; return the response headers and its parsed JSON body."""
        body = json.dumps(self._body(request, False)).encode()
        try:
            status, headers, content = await self.provider.http.post(
                self._path(request, False), body, self._request_headers(request)
            )
        except TransportFailure as exc:
            raise transport_error(self.provider, request.model, exc) from exc
        if status >= 400:
            self._raise_for(request, status, headers, content)
        return headers, parse_json(self.provider, request.model, content)

    @asynccontextmanager
    async def _open_stream(self, request: ChatRequest) -> AsyncIterator[HttpResponse]:
        """A streamed response with a success status; leaving the block closes the connection."""
        body = json.dumps(self._body(request, True)).encode()
        try:
            async with self.provider.http.stream(
                self._path(request, True), body, self._request_headers(request)
            ) as response:
                if response.status >= 400:
                    self._raise_for(request, response.status, response.headers, await response.aread())
                yield response
        except TransportFailure as exc:
            raise transport_error(self.provider, request.model, exc) from exc

    def _finish(self, response: ChatResponse, headers: Mapping[str, str], started: float, ttft: float | None) -> None:
        response.provider = self.provider.name
        response.request_id = headers.get(self.request_id_header)
        response.emulated = self._is_emulated(headers)
        response.latency_s = time.perf_counter() - started
        response.ttft_s = ttft if ttft is not None else response.latency_s

    async def complete(self, request: ChatRequest) -> ChatResponse:
        started = time.perf_counter()
        headers, data = await self._post(request)
        try:
            response = self._decode(data, request.model)
        except WireError as exc:
            raise wire_error(self.provider, request.model, exc) from exc
        self._finish(response, headers, started, None)
        return response

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Relay the stream's deltas; ``request.options["stall_timeout_s"]`` bounds the silence between
        two events once the first arrived. A failure mid-way carries what arrived (``partial``)."""
        started = time.perf_counter()
        ttft: float | None = None
        decoder = self._decoder(request.model)
        stall = request.options.get("stall_timeout_s")
        try:
            async with self._open_stream(request) as response:
                events = aiter(iter_sse(response))
                while not decoder.done:
                    try:
                        async with asyncio.timeout(stall if ttft is not None else None):
                            sse = await anext(events)
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        if decoder.complete:  # only the end marker was missing
                            break
                        raise ProviderTimeoutError(
                            f"{self.provider.name}: the stream stalled (no event for {stall} s)",
                            provider=self.provider.name,
                            model=request.model,
                        ) from None
                    for event in self._feed(decoder, sse):
                        if ttft is None:
                            ttft = time.perf_counter() - started
                            if (notify := request.options.get("on_first_event")) is not None:
                                notify(decoder.partial())  # e.g. the gateway's headers name its model
                        yield event
                answer = decoder.result()
        except (WireError, TransportFailure, ProviderError) as exc:
            error = (
                wire_error(self.provider, request.model, exc)
                if isinstance(exc, WireError)
                else transport_error(self.provider, request.model, exc)
                if isinstance(exc, TransportFailure)
                else exc
            )
            if ttft is not None:  # the stream had started: what arrived is billed, and can be continued
                _attach_partial(error, decoder, request)
            if error is exc:
                raise
            raise error from exc
        if skipped := answer.annotations.get("malformed_events"):
            log.warning("%s: skipped %d malformed stream event(s) of %s", self.provider.name, skipped, request.model)
        self._finish(answer, response.headers, started, ttft)
        yield StreamDone(answer)

    def _is_emulated(self, headers: Mapping[str, str]) -> bool:
        return headers.get(EMULATED_HEADER) == "true"

    async def aclose(self) -> None:
        await self.provider.aclose()
