"""An HTTP/1.1 keep-alive client on asyncio protocols and httptools' C parser: the chat transport.

A chat call is one POST of a JSON body answered by a JSON body or an event stream. This client does
exactly that and nothing more (no redirects, cookies, compression or proxies), so a request costs a
few Python calls around a C parser: measured by ``benchmarks/parallel/throughput.py`` at a fraction
of aiohttp's and httpx's CPU per request, and at batch and gateway concurrency that CPU is what caps
throughput.

- Connections are pooled per session: the most recently used idle one first, at most
  ``max_connections`` open (callers beyond that wait for one), idle ones dropped after
  ``IDLE_S`` (before servers usually drop them, so a request rarely meets a closing connection).
- ``https://`` base URLs use TLS with the system's trust store.
- ``Timeouts.read_s`` bounds silence: an answer that sends nothing for that long fails as ``timeout``.
- Leaving a stream before its end closes its connection, so the server stops generating.
- Response header names are lower-case (``headers.get("x-request-id")``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import cast
from urllib.parse import urlsplit

import httptools

from inferopt.errors import InvalidArgumentError
from inferopt.providers.http import HttpResponse, Timeouts, TransportFailure, split_lines

IDLE_S = 15.0
# A stream's unread data past this pauses the socket until the reader catches up.
PAUSE_AT = 1024 * 1024
USER_AGENT = "inferopt"


class _Exchange:
    """One request's answer as it arrives: status, headers, body pieces, and how it ended."""

    __slots__ = ("buffered", "chunks", "error", "finished", "headers", "status", "streaming", "waiter")

    def __init__(self, streaming: bool) -> None:
        self.streaming = streaming
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.finished = False
        self.error: TransportFailure | None = None
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def fail(self, error: TransportFailure) -> None:
        if not self.finished and self.error is None:
            self.error = error
            self.wake()

    async def wait(self, loop: asyncio.AbstractEventLoop) -> None:
        """Until something new arrives (headers, a piece of a stream, the end, a failure)."""
        if self.error is not None:
            raise self.error
        waiter = self.waiter = loop.create_future()
        await waiter
        if self.error is not None:
            raise self.error

    def header_map(self) -> dict[str, str]:
        # Reversed, so that of repeated headers the first one wins.
        return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in reversed(self.headers)}


class _Connection(asyncio.Protocol):
    """One keep-alive connection; httptools calls the ``on_*`` methods as it parses an answer."""

    def __init__(self, session: Http1Session) -> None:
        self.session = session
        self.loop = session.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: _Exchange | None = None
        self.closed = False
        self.paused = False
        self.idle_since = 0.0
        self.last_read = 0.0
        self.read_s = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # asyncio protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        if self.exchange is None:  # bytes nobody asked for: the connection is out of step
            self.abort()
            return
        self.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._end_with(TransportFailure("read", f"malformed HTTP response: {exc}"))

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.fail(TransportFailure("read", f"the server closed the connection mid-answer ({exc or 'EOF'})"))
            self.session.forget(self)
        else:
            self.session.drop_idle(self)

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.exchange.headers.append((name, value))  # type: ignore[union-attr]

    def on_headers_complete(self) -> None:
        exchange = self.exchange
        assert exchange is not None
        exchange.status = self.parser.get_status_code()
        if exchange.streaming:
            exchange.wake()

    def on_body(self, body: bytes) -> None:
        exchange = self.exchange
        assert exchange is not None
        exchange.chunks.append(body)
        if exchange.streaming:
            exchange.buffered += len(body)
            if exchange.buffered > PAUSE_AT and not self.paused and self.transport is not None:
                self.paused = True
                self.transport.pause_reading()
            exchange.wake()

    def on_message_complete(self) -> None:
        exchange, self.exchange = self.exchange, None
        assert exchange is not None
        exchange.finished = True
        exchange.wake()
        self.resume()
        if self.parser.should_keep_alive():
            self.session.release(self)
        else:
            self.abort()
            self.session.forget(self)

    # used by the session
    def send(self, data: bytes, streaming: bool, read_s: float) -> _Exchange:
        exchange = self.exchange = _Exchange(streaming)
        self.last_read = now = self.loop.time()
        self.read_s = read_s
        # One timer per connection, not per request: it stays armed across answers and, when it
        # fires, re-arms for the current answer's own deadline (or lapses if the connection is idle).
        if self._timer is None:
            self._timer = self.loop.call_at(now + read_s, self._check_silence)
        assert self.transport is not None
        self.transport.write(data)
        return exchange

    def _check_silence(self) -> None:
        self._timer = None
        if self.exchange is None or self.closed:
            return  # idle: the next request arms the timer again
        due = self.last_read + self.read_s
        if self.loop.time() < due:
            self._timer = self.loop.call_at(due, self._check_silence)
            return
        self._end_with(TransportFailure("timeout", f"no data from the server for {self.read_s:g} s"))

    def _end_with(self, error: TransportFailure) -> None:
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.fail(error)
        self.abort()
        self.session.forget(self)

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def abort(self) -> None:
        """Drop the connection (an answer left unread, a failure): it is never reused."""
        self._cancel_timer()
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.abort()


class _StreamedResponse:
    def __init__(self, connection: _Connection, exchange: _Exchange) -> None:
        self._connection = connection
        self._exchange = exchange
        self.headers: Mapping[str, str] = exchange.header_map()

    @property
    def status(self) -> int:
        return self._exchange.status

    async def _chunks(self) -> AsyncIterator[bytes]:
        exchange, loop = self._exchange, self._connection.loop
        while True:
            if exchange.chunks:
                chunks, exchange.chunks, exchange.buffered = exchange.chunks, [], 0
                self._connection.resume()
                for chunk in chunks:
                    yield chunk
            elif exchange.finished:
                return
            else:
                await exchange.wait(loop)

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self._chunks()])

    def aiter_lines(self) -> AsyncIterator[str]:
        return split_lines(self._chunks())


class Http1Session:
    """The pooled connections to one base URL (``http://`` or ``https://``)."""

    def __init__(
        self,
        base_url: str,
        timeouts: Timeouts,
        *,
        max_connections: int = 1000,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise InvalidArgumentError(f"base URL {base_url!r} must start with http:// or https:// and name a host")
        self.tls = url.scheme == "https"
        self.host = url.hostname
        self.port = url.port or (443 if self.tls else 80)
        self._prefix = url.path.rstrip("/")
        self._timeouts = timeouts
        self._max = max_connections
        host = url.netloc.rpartition("@")[2]  # never credentials from the URL in a header
        fixed = {"Host": host, "User-Agent": USER_AGENT, "Content-Type": "application/json", **(headers or {})}
        self._fixed_head = _header_lines(fixed)
        self._ssl: ssl.SSLContext | None = None
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[_Connection | None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    # the pool
    async def _acquire(self) -> _Connection:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        idle, now = self._idle, loop.time()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < IDLE_S:
                return connection
            connection.abort()
            self._open -= 1
        while self._open >= self._max:
            waiter: asyncio.Future[_Connection | None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # handed over just as the caller gave up
                    connection_or_slot = waiter.result()
                    if connection_or_slot is None:
                        self._wake_waiter(None)
                    else:
                        self.release(connection_or_slot)
                raise
            if handed is not None:
                return handed
        self._open += 1
        try:
            return await self._connect()
        except BaseException:
            self._open -= 1
            self._wake_waiter(None)
            raise

    async def _connect(self) -> _Connection:
        loop = self.loop
        if self.tls and self._ssl is None:
            self._ssl = ssl.create_default_context()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(self),
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self.tls else None,
                ),
                self._timeouts.connect_s,
            )
        except TimeoutError as exc:
            raise TransportFailure(
                "timeout", f"no connection to {self.host}:{self.port} within {self._timeouts.connect_s:g} s"
            ) from exc
        except OSError as exc:
            raise TransportFailure("connect", f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        return connection

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start over on ``loop``: connections belong to the loop that opened them (a session used
        again from a new ``asyncio.run`` cannot reuse the old loop's sockets)."""
        for connection in self._idle:
            with contextlib.suppress(RuntimeError):  # the old loop may be closed already
                connection.abort()
        self._loop, self._idle, self._open, self._waiters = loop, [], 0, deque()

    def release(self, connection: _Connection) -> None:
        """A connection whose answer ended cleanly: to a waiting caller, or back to the idle list."""
        if connection.loop is not self._loop:  # opened on a loop this session has since left
            connection.abort()
            return
        if self._closed:
            connection.abort()
            self.forget(connection)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        connection.idle_since = self.loop.time()
        self._idle.append(connection)

    def drop_idle(self, connection: _Connection) -> None:
        """An idle connection the server closed: out of the pool."""
        if connection in self._idle:
            self._idle.remove(connection)
            self.forget(connection)

    def forget(self, connection: _Connection) -> None:
        """A connection that closed while in use: its slot frees up."""
        if connection.loop is self._loop:  # (a connection of a loop left behind holds no slot)
            self._open -= 1
            self._wake_waiter(None)

    def _wake_waiter(self, handed: _Connection | None) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(handed)
                return

    # requests
    def _request(self, path: str, body: bytes, headers: Mapping[str, str]) -> bytes:
        head = (
            f"POST {self._prefix}{path} HTTP/1.1\r\n{self._fixed_head}{_header_lines(headers)}"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode("latin-1") + body

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, Mapping[str, str], bytes]:
        """POST and read the whole answer: (status, headers, body)."""
        data = self._request(path, body, headers)
        connection = await self._acquire()
        exchange = connection.send(data, False, self._timeouts.read_s)
        try:
            while not exchange.finished:
                await exchange.wait(connection.loop)
        except BaseException:
            # cancelled or failed mid-answer: the connection cannot be reused
            if not exchange.finished and connection.exchange is exchange:
                connection.exchange = None
                connection.abort()
                self.forget(connection)
            raise
        chunks = exchange.chunks
        return exchange.status, exchange.header_map(), chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @asynccontextmanager
    async def stream(self, path: str, body: bytes, headers: Mapping[str, str]) -> AsyncIterator[HttpResponse]:
        """POST and hold the answer open; leaving the context before its end closes the connection."""
        data = self._request(path, body, headers)
        connection = await self._acquire()
        exchange = connection.send(data, True, self._timeouts.read_s)
        try:
            while not exchange.status and not exchange.finished:
                await exchange.wait(connection.loop)
            yield _StreamedResponse(connection, exchange)
        finally:
            if not exchange.finished and connection.exchange is exchange:
                connection.exchange = None
                connection.abort()
                self.forget(connection)

    async def aclose(self) -> None:
        """Close the idle connections now; those in use close when their answer ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            with contextlib.suppress(RuntimeError):  # opened on a loop that has closed since
                connection.abort()
        self._open -= len(idle)


def _header_lines(headers: Mapping[str, str]) -> str:
    lines = []
    for name, value in headers.items():
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
            raise InvalidArgumentError(
                f"HTTP header {name!r} contains a line break (check the API key and extra headers)"
            )
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines)
