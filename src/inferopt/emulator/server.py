"""Running the emulator: blocking (:func:`serve`) or in a background thread (:class:`EmulatorServer`).

Both use uvicorn with httptools and uvloop when they are installed and with the access log off:
at thousands of requests per second a log line per request would cost more than the answer.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import urllib.request
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

import uvicorn

from inferopt.emulator.app import EmulatorApp, create_app
from inferopt.emulator.config import EmulatorConfig
from inferopt.emulator.stats import EmulatorStats
from inferopt.serving import STARTUP_TIMEOUT_S, ThreadedServer, listening_socket, new_event_loop, uvicorn_config

DEFAULT_PORT = 8100
# The drop fault returns from the app before the response is complete, on purpose; uvicorn then
# closes the connection (what the fault is for) and logs this line, which is noise here.
_DROP_LOG_LINE = "ASGI callable returned without completing response."


class _DropFaultLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _DROP_LOG_LINE


def _quiet_drop_fault_logs() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFaultLogFilter) for f in logger.filters):
        logger.addFilter(_DropFaultLogFilter())


def serve(
    config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = DEFAULT_PORT, log_level: str = "warning"
) -> None:
    """Run the emulator in this thread until interrupted (Ctrl-C)."""
    _quiet_drop_fault_logs()
    server = uvicorn.Server(uvicorn_config(create_app(config), host, port, log_level))
    loop = new_event_loop()
    try:
        loop.run_until_complete(server.serve())
    finally:
        loop.close()


def _child_main(config: EmulatorConfig, host: str, port: int, log_level: str, ready: Connection) -> None:
    """Entry point of a subprocess emulator: serve until SIGTERM, report the port once ready."""
    _quiet_drop_fault_logs()
    app = create_app(config)
    sock = listening_socket(host, port)
    app.on_startup.append(lambda: ready.send(sock.getsockname()[1]))
    server = uvicorn.Server(uvicorn_config(app, host, sock.getsockname()[1], log_level))
    loop = new_event_loop()
    try:
        loop.run_until_complete(server.serve(sockets=[sock]))
    finally:
        loop.close()


class EmulatorServer:
    """An emulator on 127.0.0.1 in a background thread (or process), for tests, benchmarks, the CLI.

    ::

        with EmulatorServer(EmulatorConfig(seed=1)) as server:
            client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test")

    ``port=0`` (the default) picks a free port. ``stats`` are the live counters.

    A thread shares the interpreter lock with its caller: fine for tests, but a load test whose
    client runs in the same process measures both. ``subprocess=True`` runs the emulator in its
    own process instead (the config must then be picklable: no lambdas as clock or sleep); its
    counters are read with :meth:`stats_snapshot`.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        *,
        subprocess: bool = False,
    ) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.app: EmulatorApp | None = None if subprocess else create_app(self.config)
        self._host = host
        self._requested_port = port
        self._log_level = log_level
        self._threaded: ThreadedServer | None = None
        self._process: BaseProcess | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def stats(self) -> EmulatorStats:
        """The live counters (thread mode; a subprocess emulator has :meth:`stats_snapshot`)."""
        if self.app is None:
            raise RuntimeError("a subprocess emulator's counters live in that process: use stats_snapshot()")
        return self.app.stats

    def stats_snapshot(self) -> dict[str, Any]:
        """The counters as JSON-ready data, in either mode (``GET /emulator/stats``)."""
        if self.app is not None:
            return self.app.stats.snapshot()
        with urllib.request.urlopen(self.url + "/emulator/stats", timeout=10) as response:
            data: dict[str, Any] = json.load(response)
        return data

    def start(self) -> EmulatorServer:
        """Start serving and return once requests are accepted."""
        if self._threaded is not None or self._process is not None:
            raise RuntimeError("this EmulatorServer is already running")
        if self.app is None:
            self._start_process()
        else:
            self._start_thread(self.app)
        return self

    def _start_thread(self, app: EmulatorApp) -> None:
        _quiet_drop_fault_logs()
        self._threaded = ThreadedServer(
            app, self._host, self._requested_port, name="inferopt-emulator", log_level=self._log_level
        )
        self._threaded.start()
        self.port = self._threaded.port

    def _start_process(self) -> None:
        # spawn, not fork: the parent may run threads (a forked lock held by one deadlocks the child)
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        args = (self.config, self._host, self._requested_port, self._log_level, sender)
        self._process = context.Process(target=_child_main, args=args, daemon=True, name="inferopt-emulator")
        self._process.start()
        sender.close()
        try:
            if not receiver.poll(STARTUP_TIMEOUT_S):
                raise RuntimeError("the emulator process did not start in time")
            self.port = receiver.recv()
        except (EOFError, RuntimeError) as exc:
            self.stop()
            raise RuntimeError(f"the emulator process did not start: {exc or 'it exited'}") from exc
        finally:
            receiver.close()

    def stop(self) -> None:
        """Stop serving and wait (in-flight hangs are cancelled after 1 s)."""
        if self._threaded is not None:
            self._threaded.stop()
        if self._process is not None:
            self._process.terminate()  # SIGTERM: uvicorn shuts down gracefully
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        self._threaded = self._process = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        running = self._threaded is not None or self._process is not None
        return f"EmulatorServer({self.url}, {'running' if running else 'stopped'})"
