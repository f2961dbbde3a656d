"""What every HTTP provider adapter shares: the connection object and error mapping.

A :class:`Provider` holds where and how to connect (base URL, key, timeout, the pooled
``httpx.AsyncClient``); an adapter (``OpenAIChatModel``, ``AnthropicModel``) turns the neutral
``ChatRequest`` into one provider's wire format over it. One provider serves many adapters and
many model names; credentials never live in an adapter.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

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
from inferopt.types import ChatRequest

EMULATED_HEADER = "x-inferopt-emulated"


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


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    message: str
    type: str | None
    code: str | None


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
        "error_type": detail.type or detail.code,
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


async def iter_sse(response: HttpResponse) -> AsyncIterator[tuple[str | None, str]]:
    """Yield ``(event, data)`` pairs of a server-sent-events body (``event`` is None if absent).

    Follows the SSE framing: fields per line, a blank line dispatches the event, multiple
    ``data:`` lines join with newlines, comment lines (``:``) are ignored.
    """
    event: str | None = None
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield event, "\n".join(data)


class HTTPChatModel:
    """What both wire adapters share: POST a JSON body, map errors, open a streamed response.

    Subclasses set ``path`` and ``request_id_header`` and provide ``_headers``, ``_body`` and
    ``_error_detail``; they parse the provider's answer and stream events themselves.
    """

    path: ClassVar[str]
    request_id_header: ClassVar[str]

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def _error_detail(self, body: bytes) -> ErrorDetail:
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
            status, headers, content = await self.provider.http.post(self.path, body, self._headers())
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
            async with self.provider.http.stream(self.path, body, self._headers()) as response:
                if response.status >= 400:
                    self._raise_for(request, response.status, response.headers, await response.aread())
                yield response
        except TransportFailure as exc:
            raise transport_error(self.provider, request.model, exc) from exc

    def _is_emulated(self, headers: Mapping[str, str]) -> bool:
        return headers.get(EMULATED_HEADER) == "true"

    async def aclose(self) -> None:
        await self.provider.aclose()
