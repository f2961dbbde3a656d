"""Running the emulator: blocking (:func:`serve`), in a background thread or in its own process
(:class:`EmulatorServer`), always on the lean HTTP/1.1 server (``http_server.py``) and uvloop when
it is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import multiprocessing
import signal
import socket
import threading
import urllib.request
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from inferopt.emulator.app import EmulatorApp, create_app
from inferopt.emulator.config import EmulatorConfig
from inferopt.emulator.http_server import LeanServer
from inferopt.emulator.stats import EmulatorStats
from inferopt.serving import STARTUP_TIMEOUT_S, listening_socket, new_event_loop

DEFAULT_PORT = 8100


async def _serve_until(app: EmulatorApp, sock: socket.socket, stop: asyncio.Event, ready: Callable[[], None]) -> None:
    server = LeanServer(app)
    await server.start(sock)
    for callback in app.on_startup:
        callback()
    ready()
    try:
        await stop.wait()
    finally:
        await server.stop()


def _run(
    app: EmulatorApp, sock: socket.socket, ready: Callable[[asyncio.AbstractEventLoop, asyncio.Event], None]
) -> None:
    """Serve on a new event loop in this thread until the stop event handed to ``ready`` is set."""
    loop = new_event_loop()
    stop = asyncio.Event()
    try:
        loop.run_until_complete(_serve_until(app, sock, stop, lambda: ready(loop, stop)))
    finally:
        # Answers whose client hung up mid-way may still sleep towards their end: end them, as asyncio.run does.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:  # gathered inside the loop: gather() outside it would bind to another loop

            async def drain() -> None:
                await asyncio.gather(*pending, return_exceptions=True)

            loop.run_until_complete(drain())
        loop.close()


def _tune_gc_for_a_server_process() -> None:
    """Collector settings for a process that only serves the emulator (never applied in thread mode:
    the host process's collector is its application's business).

    Everything alive once the app is built (modules, profiles, tokenizer tables: ~50,000 objects) stays
    alive, so it is frozen out of collections; and the first generation is collected after 20,000 net
    allocations instead of 700, so the objects of the requests in flight (thousands at high concurrency)
    mostly die before a collection could promote them. Measured with ``benchmarks/parallel/throughput.py``'s
    10,000-request row: no full collection (a 16 ms pause of every answer in flight) and a few ms of
    collection in all, instead of ~60 ms.
    """
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def serve(config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    """Run the emulator in this thread until interrupted (Ctrl-C or SIGTERM); it owns the process
    (signal handlers, collector settings), as ``inferopt emulate`` does."""

    def on_ready(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

    sock = listening_socket(host, port)
    try:
        app = create_app(config)
        _tune_gc_for_a_server_process()
        _run(app, sock, on_ready)
    finally:
        sock.close()


def _child_main(config: EmulatorConfig, host: str, port: int, ready: Connection) -> None:
    """Entry point of a subprocess emulator: serve until SIGTERM, report the port once ready."""
    sock = listening_socket(host, port)

    def on_ready(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        ready.send(sock.getsockname()[1])

    app = create_app(config)
    _tune_gc_for_a_server_process()
    _run(app, sock, on_ready)


class _Thread:
    """The emulator served from a daemon thread of this process."""

    def __init__(self, app: EmulatorApp, host: str, port: int) -> None:
        self.sock = listening_socket(host, port)
        self.port: int = self.sock.getsockname()[1]
        self._ready = threading.Event()
        self._stop: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self._failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._main, args=(app,), daemon=True, name=f"inferopt-emulator-{self.port}"
        )
        self._thread.start()
        if not self._ready.wait(STARTUP_TIMEOUT_S) or self._failure:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {self._failure[0] if self._failure else 'timed out'}")

    def _main(self, app: EmulatorApp) -> None:
        def on_ready(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
            self._stop = (loop, stop)
            self._ready.set()

        try:
            _run(app, self.sock, on_ready)
        except BaseException as exc:  # reported to the starter; the thread must not die silently
            self._failure.append(exc)
        finally:
            self._ready.set()

    def stop(self) -> None:
        if self._stop is not None:
            loop, stop = self._stop
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout=10)
        self.sock.close()


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
        *,
        subprocess: bool = False,
    ) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.app: EmulatorApp | None = None if subprocess else create_app(self.config)
        self._host = host
        self._requested_port = port
        self._threaded: _Thread | None = None
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
        self._threaded = _Thread(app, self._host, self._requested_port)
        self.port = self._threaded.port

    def _start_process(self) -> None:
        # spawn, not fork: the parent may run threads (a forked lock held by one deadlocks the child)
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        args = (self.config, self._host, self._requested_port, sender)
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
            self._process.terminate()  # SIGTERM: answers in flight get a second to finish
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
