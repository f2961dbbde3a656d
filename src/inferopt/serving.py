"""Serve an ASGI app on a loopback socket from a background thread (the emulator, the gateway).

The socket is bound before uvicorn starts, so ``port=0`` gives a free port that is known at once
and connections made early wait in the backlog. Readiness is signalled by uvicorn's own startup
(no polling); a failure to start is raised from :meth:`ThreadedServer.start`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import uvicorn

STARTUP_TIMEOUT_S = 30.0


def listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)  # connections made before uvicorn runs wait in the backlog
    return sock


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (the fast path uvicorn would pick), else asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def uvicorn_config(app: Any, host: str, port: int, log_level: str = "warning") -> uvicorn.Config:
    """The settings both servers use: httptools, no access log, our own event loop, quick shutdown."""
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=http,
        loop="none",  # the caller chooses the event loop (uvloop when available)
        lifespan="on",
        access_log=False,  # at thousands of requests per second a log line would cost more than the answer
        proxy_headers=False,  # served on loopback behind no proxy; skips a middleware layer
        log_level=log_level,
        timeout_graceful_shutdown=1,  # hung requests (the emulator's hang fault) must not keep a stop waiting
        backlog=4096,
    )


class _SignallingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


class ThreadedServer:
    """``app`` served by uvicorn in a daemon thread until :meth:`stop`."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        name: str = "inferopt-server",
        log_level: str = "warning",
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.name = name
        self.log_level = log_level
        self.port = 0
        self._server: _SignallingServer | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already running")
        sock = self._socket = listening_socket(self.host, self.requested_port)
        self.port = sock.getsockname()[1]
        server = self._server = _SignallingServer(uvicorn_config(self.app, self.host, self.port, self.log_level))
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(server, sock, failure), daemon=True, name=f"{self.name}-{self.port}"
        )
        self._thread.start()
        if not server.ready.wait(STARTUP_TIMEOUT_S) or failure or not server.started:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {failure[0] if failure else 'startup failed or timed out'}")

    @staticmethod
    def _run(server: _SignallingServer, sock: socket.socket, failure: list[BaseException]) -> None:
        loop = new_event_loop()
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to start(); the thread must not die silently
            failure.append(exc)
        finally:
            server.ready.set()  # also when serve() returned without starting: start() must not wait it out
            loop.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
