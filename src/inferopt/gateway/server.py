"""A gateway on 127.0.0.1 in a background thread: for tests, examples and notebooks.

::

    with GatewayServer(create_app("inferopt.yaml")) as gateway:
        client = openai.OpenAI(base_url=gateway.openai_base_url, api_key="sk-io-...")

Production runs ``inferopt serve`` (uvicorn, optionally several workers) instead.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType

import uvicorn

from inferopt.gateway.app import GatewayApp

_STARTUP_TIMEOUT_S = 30.0


class GatewayServer:
    """Serve ``app`` on ``host`` (a free port unless ``port`` is given) until stopped."""

    def __init__(self, app: GatewayApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._host = host
        self._requested_port = port
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def start(self) -> GatewayServer:
        sock = self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._requested_port))
        sock.listen(4096)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            host=self._host,
            port=self.port,
            http="httptools",
            loop="none",
            lifespan="on",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, args=(sock,), daemon=True, name=f"inferopt-gw-{self.port}")
        self._thread.start()
        deadline = _STARTUP_TIMEOUT_S
        while not self._server.started and deadline > 0 and self._thread.is_alive():
            threading.Event().wait(0.01)
            deadline -= 0.01
        if not self._server.started:
            self.stop()
            raise RuntimeError("the gateway did not start")
        return self

    def _run(self, sock: socket.socket) -> None:
        assert self._server is not None
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._server.serve(sockets=[sock]))
        finally:
            loop.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
