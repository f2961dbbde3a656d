"""The HTTP seam of the chat adapters: POST a JSON body, or open a streamed response.

Two implementations of one small interface:

- :class:`AiohttpSession` (the default): aiohttp's pool and C parser. Measured by
  ``benchmarks/parallel/throughput.py``, httpx's client and pool cost several times more CPU per
  request at the concurrency batch jobs and the gateway run at, and that CPU caps throughput.
- :class:`HttpxSession`: httpx with any ``httpx.AsyncBaseTransport`` injected (``MockTransport``
  in tests, a proxy-aware transport, an ASGI app).

Failures are raised as :class:`TransportFailure` with a kind (``timeout``, ``connect``, ``read``);
the adapter turns them into the inferopt exception tree with provider and model attached.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

import aiohttp
import httpx

LARGE_BODY = 512 * 1024


class TransportFailure(Exception):
    def __init__(self, kind: Literal["timeout", "connect", "read"], message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Timeouts:
    read_s: float
    connect_s: float


class HttpResponse(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def aread(self) -> bytes: ...

    def aiter_lines(self) -> AsyncIterator[str]: ...


class HttpSession(Protocol):
    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, Mapping[str, str], bytes]:
        """POST and read the whole answer: (status, headers, body)."""
        ...

    def stream(self, path: str, body: bytes, headers: Mapping[str, str]) -> AbstractAsyncContextManager[HttpResponse]:
        """POST and hold the answer open; leaving the context closes the connection."""
        ...

    async def aclose(self) -> None: ...


async def split_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Lines of a byte stream (``\\n``, ``\\r\\n`` or ``\\r``), of any length, decoded as UTF-8."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        *lines, pending = pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        for line in lines:
            yield line.decode("utf-8")
    if pending:
        yield pending.decode("utf-8")


class _AiohttpResponse:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def aread(self) -> bytes:
        with _mapped():
            return await self._response.read()

    async def _chunks(self) -> AsyncIterator[bytes]:
        with _mapped():
            async for chunk in self._response.content.iter_any():
                yield chunk

    def aiter_lines(self) -> AsyncIterator[str]:
        return split_lines(self._chunks())


class _mapped:
    """Re-raise aiohttp and socket failures as TransportFailure."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            return
        if isinstance(exc, asyncio.TimeoutError):
            raise TransportFailure("timeout", str(exc) or "timed out") from exc
        if isinstance(exc, aiohttp.ClientConnectorError):
            raise TransportFailure("connect", str(exc)) from exc
        if isinstance(exc, (aiohttp.ClientError, ConnectionError)):
            raise TransportFailure("read", str(exc) or type(exc).__name__) from exc


class AiohttpSession:
    def __init__(
        self,
        base_url: str,
        timeouts: Timeouts,
        *,
        max_connections: int = 1000,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeouts.connect_s, sock_connect=timeouts.connect_s, sock_read=timeouts.read_s
        )
        self._max = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max, limit_per_host=self._max, ttl_dns_cache=300),
                cookie_jar=aiohttp.DummyCookieJar(),  # an API client must not carry cookies between tenants
                timeout=self._timeout,
                headers=self.headers,
            )
        return self._session

    def _request(self, path: str, body: bytes, headers: Mapping[str, str]) -> aiohttp.client._RequestContextManager:
        merged = {"content-type": "application/json", **headers}
        # aiohttp writes big bytes bodies in one blocking call; a file-like body is written in chunks.
        data: bytes | io.BytesIO = io.BytesIO(body) if len(body) > LARGE_BODY else body
        return self._now().post(self.base_url + path, data=data, headers=merged, allow_redirects=False)

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, Mapping[str, str], bytes]:
        with _mapped():
            async with self._request(path, body, headers) as response:
                return response.status, response.headers, await response.read()

    @asynccontextmanager
    async def stream(self, path: str, body: bytes, headers: Mapping[str, str]) -> AsyncIterator[HttpResponse]:
        with _mapped():
            response = await self._request(path, body, headers)
        try:
            yield _AiohttpResponse(response)
        finally:
            response.close()  # not release(): an unfinished stream must drop the connection, stopping upstream

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _HttpxResponse:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def aread(self) -> bytes:
        with _httpx_mapped():
            return await self._response.aread()

    async def aiter_lines(self) -> AsyncIterator[str]:
        with _httpx_mapped():
            async for line in self._response.aiter_lines():
                yield line


class _httpx_mapped:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, httpx.TimeoutException):
            raise TransportFailure("timeout", str(exc) or type(exc).__name__) from exc
        if isinstance(exc, httpx.ConnectError):
            raise TransportFailure("connect", str(exc)) from exc
        if isinstance(exc, httpx.HTTPError):
            raise TransportFailure("read", str(exc) or type(exc).__name__) from exc


class HttpxSession:
    def __init__(
        self,
        base_url: str,
        timeouts: Timeouts,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 1000,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeouts.read_s, connect=timeouts.connect_s),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers=dict(headers or {}),
            transport=transport,
        )

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, Mapping[str, str], bytes]:
        with _httpx_mapped():
            response = await self._client.post(
                path, content=body, headers={"content-type": "application/json", **headers}
            )
            return response.status_code, response.headers, response.content

    @asynccontextmanager
    async def stream(self, path: str, body: bytes, headers: Mapping[str, str]) -> AsyncIterator[HttpResponse]:
        with _httpx_mapped():
            request = self._client.build_request(
                "POST", path, content=body, headers={"content-type": "application/json", **headers}
            )
            response = await self._client.send(request, stream=True)
        try:
            yield _HttpxResponse(response)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()
