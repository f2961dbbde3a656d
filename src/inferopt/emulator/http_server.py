"""A lean HTTP/1.1 server for an ASGI app, on asyncio protocols and httptools: how the emulator is served.

A load test of a client against the emulator must measure the client, so the emulator has to answer
thousands of requests per second on one core. uvicorn spends several times the emulator's own work
per request (measured by ``benchmarks/parallel/throughput.py``); this server does what the emulator
needs and nothing more:

- HTTP/1.1 keep-alive; pipelined requests are answered in order; ``Expect: 100-continue`` is honoured;
- a request body is read whole before the app runs (one ``http.request`` message);
- responses with ``content-length`` go out in one write with their headers; others are chunked;
- ``receive()`` answers ``http.disconnect`` when the client hangs up (or the response is complete);
- an app that returns before completing its response gets the connection closed (the emulator's
  ``drop`` fault relies on it); an app that raises gets a 500, or a closed connection if it had started;
- write back-pressure (``send`` waits while the socket's buffer is full); idle connections are closed
  after ``KEEP_ALIVE_S``;
- the scope carries ``"inferopt.received_at"``: the loop's time when the request had been read, from
  which the emulator counts latency (so its own queueing does not lengthen the emulated latency).

No TLS, HTTP/2, websockets or lifespan events: the app is ready when constructed. Any ASGI app runs on
it; the gateway, a production server, runs on uvicorn.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import unquote

import httptools

from inferopt.asgi import Message, Scope

KEEP_ALIVE_S = 75.0
# Scope key: the event loop's time when the whole request had been read.
RECEIVED_AT = "inferopt.received_at"
_SWEEP_S = 15.0
_MAX_QUEUED = 16  # pipelined requests waiting before the connection stops reading
_log = logging.getLogger("inferopt.emulator")
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
_ASGI = {"version": "3.0", "spec_version": "2.3"}
App = Callable[[Scope, Callable[[], Any], Callable[[Message], Any]], Any]


class _ServerExchange:
    """One request and its response: the ``receive`` and ``send`` the app is given."""

    __slots__ = ("_connection", "_head", "_waiter", "body", "chunked", "complete", "keep_alive", "scope", "started")

    def __init__(self, connection: _ServerConnection, scope: Scope, body: bytes, keep_alive: bool) -> None:
        self._connection = connection
        self.scope = scope
        self.body: bytes | None = body
        self.keep_alive = keep_alive
        self.started = False
        self.complete = False
        self.chunked = False
        self._head = b""
        self._waiter: asyncio.Future[None] | None = None

    async def receive(self) -> Message:
        body = self.body
        if body is not None:
            self.body = None
            return {"type": "http.request", "body": body, "more_body": False}
        if not self.complete and not self._connection.closed:
            self._waiter = self._connection.loop.create_future()
            await self._waiter
        return {"type": "http.disconnect"}

    def wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("http.response.start sent twice")
            self.started = True
            self._head = self._response_head(message["status"], message.get("headers") or ())
            return
        if kind != "http.response.body":
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        if not self.started or self.complete:
            raise RuntimeError("http.response.body before http.response.start or after the end")
        connection = self._connection
        if connection.closed:
            return  # the client is gone: nothing to write to (the app hears it from receive())
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        if self.chunked:
            data = b"%x\r\n%b\r\n" % (len(body), body) if body else b""
            if not more:
                data += b"0\r\n\r\n"
        else:
            data = body
        if self._head:
            data, self._head = self._head + data, b""
        if data:
            connection.write(data)
        if not more:
            self.complete = True
            self.wake()
        if connection.write_paused:
            await connection.drain()

    def _response_head(self, status: int, headers: Any) -> bytes:
        lines = [b"HTTP/1.1 %d %b\r\n" % (status, _REASONS.get(status, b""))]
        has_length = False
        for name, value in headers:
            if name == b"content-length":
                has_length = True
            lines.append(b"%b: %b\r\n" % (name, value))
        if not has_length and status >= 200 and status not in (204, 304) and self.scope["method"] != "HEAD":
            self.chunked = True
            lines.append(b"transfer-encoding: chunked\r\n")
        if not self.keep_alive:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)


class _ServerConnection(asyncio.Protocol):
    """One client connection: httptools calls the ``on_*`` methods as it parses requests."""

    def __init__(self, server: LeanServer) -> None:
        self.server = server
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.closed = False
        self.write_paused = False
        self.idle_since = self.loop.time()
        self._drain: asyncio.Future[None] | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._queue: deque[_ServerExchange] = deque()
        self._current: _ServerExchange | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: tuple[str, int] | None = None
        self._local: tuple[str, int] | None = None

    # asyncio protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes
        self._client = _address(transport.get_extra_info("peername"))
        self._local = _address(transport.get_extra_info("sockname"))
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.idle_since = -1.0
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # served as plain HTTP/1.1; the request itself has been parsed
        except httptools.HttpParserError:
            self.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)
        if self._current is not None:
            self._current.wake()
        self._wake_drain()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_drain()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url, self._headers, self._body = b"", [], []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        if (b"expect", b"100-continue") in self._headers and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        raw_path, _, query = self._url.partition(b"?")
        path = raw_path.decode("latin-1")
        scope: Scope = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": self.parser.get_http_version(),
            "method": self.parser.get_method().decode("ascii"),
            "scheme": "http",
            "path": unquote(path) if "%" in path else path,
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": self._headers,
            "client": self._client,
            "server": self._local,
            RECEIVED_AT: self.loop.time(),
        }
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        exchange = _ServerExchange(self, scope, body, self.parser.should_keep_alive())
        if self._current is None:
            self._run(exchange)
        else:
            self._queue.append(exchange)
            if len(self._queue) >= _MAX_QUEUED and self.transport is not None:
                self.transport.pause_reading()

    # serving
    def _run(self, exchange: _ServerExchange) -> None:
        self._current = exchange
        self._task = self.loop.create_task(self._serve(exchange))

    async def _serve(self, exchange: _ServerExchange) -> None:
        try:
            await self.server.app(exchange.scope, exchange.receive, exchange.send)
        except asyncio.CancelledError:
            self.close()
            raise
        except Exception:
            _log.exception("the emulator failed on %s %s", exchange.scope["method"], exchange.scope["path"])
            if not exchange.started and not self.closed:
                self.write(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            self.close()
            return
        if not exchange.complete or not exchange.keep_alive:  # returned mid-response: the client sees it close
            self.close()
        elif not self.closed:
            self._next()

    def _next(self) -> None:
        self._current = self._task = None
        if self._queue:
            if len(self._queue) == _MAX_QUEUED and self.transport is not None:
                self.transport.resume_reading()
            self._run(self._queue.popleft())
        else:
            self.idle_since = self.loop.time()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    async def drain(self) -> None:
        if self.write_paused and not self.closed:
            self._drain = self.loop.create_future()
            await self._drain

    def _wake_drain(self) -> None:
        waiter, self._drain = self._drain, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """Close after what was written has been sent."""
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()
            if self._current is not None:
                self._current.wake()

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.close()


def _address(value: Any) -> tuple[str, int] | None:
    return (str(value[0]), int(value[1])) if isinstance(value, tuple) and len(value) >= 2 else None


class LeanServer:
    """Serves ``app`` on a listening socket until :meth:`stop`."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.connections: set[_ServerConnection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    async def start(self, sock: socket.socket) -> None:
        """Accept connections on ``sock`` (bound and listening); returns once accepting."""
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(lambda: _ServerConnection(self), sock=sock, backlog=4096)
        self._sweeper = self._loop.call_later(_SWEEP_S, self._sweep)

    def _sweep(self) -> None:
        now = self.loop.time()
        for connection in list(self.connections):
            if connection.idle_since >= 0 and now - connection.idle_since > KEEP_ALIVE_S:
                connection.close()
        self._sweeper = self.loop.call_later(_SWEEP_S, self._sweep)

    async def stop(self, grace_s: float = 1.0) -> None:
        """Stop accepting, let answers in flight finish for up to ``grace_s``, then cut the rest."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        busy = [c for c in self.connections if c.idle_since < 0]
        for connection in self.connections - set(busy):
            connection.close()
        deadline = self.loop.time() + grace_s
        while any(not c.closed and c.idle_since < 0 for c in busy) and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
        for connection in list(self.connections):
            connection.cancel()
        if self._server is not None:
            await self._server.wait_closed()
