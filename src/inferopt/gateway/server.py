"""A gateway on 127.0.0.1 in a background thread: for tests, examples and notebooks.

::

    with GatewayServer(create_app("inferopt.yaml")) as gateway:
        client = openai.OpenAI(base_url=gateway.openai_base_url, api_key="sk-io-...")

Production runs ``inferopt serve`` (uvicorn, optionally several workers) instead.
"""

from __future__ import annotations

from types import TracebackType

from inferopt.gateway.app import GatewayApp
from inferopt.serving import ThreadedServer


class GatewayServer:
    """Serve ``app`` on ``host`` (a free port unless ``port`` is given) until stopped."""

    def __init__(self, app: GatewayApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._threaded = ThreadedServer(app, host, port, name="inferopt-gateway")

    @property
    def port(self) -> int:
        return self._threaded.port

    @property
    def url(self) -> str:
        return f"http://{self._threaded.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def start(self) -> GatewayServer:
        self._threaded.start()
        return self

    def stop(self) -> None:
        self._threaded.stop()

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
