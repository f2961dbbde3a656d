"""An experiment: an ``httpx`` transport on plain asyncio streams and httptools, without httpcore.

httpcore's async pool (anyio locks, a readability check of every pooled connection on each
request) costs CPU that grows with concurrency (encode/httpx#3215). This transport keeps the
``httpx.AsyncClient`` API the provider adapters use and replaces only the pool and HTTP/1.1
parsing, to measure how much of the gateway's upstream cost is the pool. Plain HTTP only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httptools
import httpx


class _Parsed:
    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.headers_done = False
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer


class _Body(httpx.AsyncByteStream):
    def __init__(
        self,
        transport: RawTransport,
        key: tuple[str, int],
        conn: _Connection,
        parsed: _Parsed,
        parser: httptools.HttpResponseParser,
    ) -> None:
        self._transport, self._key, self._conn, self._parsed, self._parser = transport, key, conn, parsed, parser

    async def __aiter__(self) -> AsyncIterator[bytes]:
        parsed = self._parsed
        while True:
            if parsed.chunks:
                chunks, parsed.chunks = parsed.chunks, []
                for chunk in chunks:
                    yield chunk
            if parsed.complete:
                return
            data = await self._conn.reader.read(65536)
            if not data:
                raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
            self._parser.feed_data(data)

    async def aclose(self) -> None:
        if self._parsed.complete:
            self._transport._idle.setdefault(self._key, []).append(self._conn)
        else:
            self._conn.writer.close()


class RawTransport(httpx.AsyncBaseTransport):
    """Keep-alive connections per host in a plain list; one request per connection at a time."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.url.host, request.url.port or 80)
        idle = self._idle.get(key)
        conn = idle.pop() if idle else _Connection(*await asyncio.open_connection(*key))
        body = await request.aread()
        target = request.url.raw_path.decode()
        lines = [f"{request.method} {target} HTTP/1.1\r\n".encode()]
        lines += [name + b": " + value + b"\r\n" for name, value in request.headers.raw]
        conn.writer.write(b"".join(lines) + b"\r\n" + body)
        parsed = _Parsed()
        parser = httptools.HttpResponseParser(parsed)
        while not parsed.headers_done:
            data = await conn.reader.read(65536)
            if not data:
                conn.writer.close()
                raise httpx.RemoteProtocolError("server closed the connection before answering")
            parser.feed_data(data)
        return httpx.Response(
            parser.get_status_code(), headers=parsed.headers, stream=_Body(self, key, conn, parsed, parser)
        )

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.writer.close()
        self._idle.clear()
