"""The HTTP seam of the chat adapters: POST a JSON body, or open a streamed response.

Two implementations of one small interface:

- :class:`~inferopt.providers.http1.Http1Session` (the default): an HTTP/1.1 keep-alive client on
  asyncio and httptools' C parser. Measured by ``benchmarks/parallel/throughput.py``, aiohttp's and
  httpx's clients cost several times more CPU per request at the concurrency batch jobs and the
  gateway run at, and that CPU caps throughput.
- :class:`HttpxSession`: httpx with any ``httpx.AsyncBaseTransport`` injected (``MockTransport``
  in tests, a proxy-aware transport, an ASGI app).

Failures are raised as :class:`TransportFailure` with a kind (``timeout``, ``connect``, ``read``);
the adapter turns them into the inferopt exception tree with provider and model attached.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx


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
        # A "\r" at the end may be the first half of a "\r\n" split between chunks: it waits for the next one.
        held = b"\r" if pending.endswith(b"\r") else b""
        complete = pending[:-1] if held else pending
        *lines, pending = complete.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        pending += held
        for line in lines:
            yield line.decode("utf-8")
    if pending:
        yield pending.removesuffix(b"\r").decode("utf-8")


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
