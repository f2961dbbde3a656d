"""The emulator's HTTP/1.1 server over raw loopback sockets: what an HTTP client relies on."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httptools
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, FaultConfig, ProfileOverrides
from inferopt.emulator.http_server import LeanServer
from inferopt.serving import listening_socket


class Parsed:
    """Responses read off one connection with httptools (as a client's parser sees them)."""

    def __init__(self) -> None:
        self.responses: list[dict[str, Any]] = []
        self._current: dict[str, Any] = {}
        self.parser = httptools.HttpResponseParser(self)

    def on_message_begin(self) -> None:
        self._current = {"headers": {}, "body": b""}

    def on_header(self, name: bytes, value: bytes) -> None:
        self._current["headers"][name.decode().lower()] = value.decode()

    def on_headers_complete(self) -> None:
        self._current["status"] = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._current["body"] += body

    def on_message_complete(self) -> None:
        self.responses.append(self._current)


def exchange(
    sock: socket.socket, data: bytes, responses: int, timeout: float = 5.0
) -> tuple[list[dict[str, Any]], bool]:
    """Send ``data``, read until ``responses`` answers are complete; also whether the server then closed."""
    parsed = Parsed()
    sock.settimeout(timeout)
    sock.sendall(data)
    closed = False
    while len(parsed.responses) < responses:
        chunk = sock.recv(65536)
        if not chunk:
            closed = True
            break
        parsed.parser.feed_data(chunk)
    return parsed.responses, closed


def closes_after(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def chat(content: str, *, stream: bool = False, keep_alive: bool = True) -> bytes:
    body = json.dumps(
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], "max_tokens": 8, "stream": stream}
    ).encode()
    connection = b"" if keep_alive else b"Connection: close\r\n"
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: emu\r\nAuthorization: Bearer sk-t\r\n"
        b"Content-Type: application/json\r\n%bContent-Length: %d\r\n\r\n%b" % (connection, len(body), body)
    )


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0))) as running:
        yield running


def connect(server: EmulatorServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def test_keep_alive_serves_pipelined_requests_in_order(emulator: EmulatorServer) -> None:
    with connect(emulator) as sock:
        responses, closed = exchange(sock, chat("first") + b"GET /health HTTP/1.1\r\nHost: e\r\n\r\n" + chat("x"), 3)
        again, _ = exchange(sock, chat("same connection, later"), 1)
    assert not closed and [r["status"] for r in responses + again] == [200, 200, 200, 200]
    assert json.loads(responses[0]["body"])["object"] == "chat.completion"
    assert json.loads(responses[1]["body"]) == {"status": "ok", "emulated": True}
    assert json.loads(responses[2]["body"])["object"] == "chat.completion"
    assert all(r["headers"]["x-inferopt-emulated"] == "true" for r in responses)


def test_a_stream_is_chunked_and_ends_with_done(emulator: EmulatorServer) -> None:
    with connect(emulator) as sock:
        (response,), closed = exchange(sock, chat("stream please", stream=True), 1)
    assert response["headers"]["transfer-encoding"] == "chunked" and not closed
    assert response["headers"]["content-type"].startswith("text/event-stream")
    assert response["body"].endswith(b"data: [DONE]\n\n")


def test_connection_close_is_honoured(emulator: EmulatorServer) -> None:
    with connect(emulator) as sock:
        (response,), _ = exchange(sock, chat("then close", keep_alive=False), 1)
        assert response["headers"]["connection"] == "close"
        assert closes_after(sock)


def test_expect_continue_gets_100_before_the_body_is_sent(emulator: EmulatorServer) -> None:
    request = chat("with expect")
    head, _, body = request.partition(b"\r\n\r\n")
    with connect(emulator) as sock:
        sock.sendall(head + b"\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        (response,), _ = exchange(sock, body, 1)
    assert response["status"] == 200


def test_malformed_request_is_a_400_and_the_connection_closes(emulator: EmulatorServer) -> None:
    with connect(emulator) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(200).startswith(b"HTTP/1.1 400 Bad Request")
        assert closes_after(sock)


def test_drop_fault_closes_the_connection_mid_body() -> None:
    config = EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0), faults=FaultConfig(drop_rate=1.0))
    with EmulatorServer(config) as server, connect(server) as sock:
        responses, closed = exchange(sock, chat("dropped"), 1)
    assert responses == [] and closed


def test_stop_cuts_a_hung_request_within_about_a_second() -> None:
    config = EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0), faults=FaultConfig(hang_rate=1.0))
    server = EmulatorServer(config).start()
    with connect(server) as sock:
        sock.sendall(chat("hang"))
        time.sleep(0.1)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 3
        assert closes_after(sock)


async def test_an_app_that_raises_gives_a_500_and_closes(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("bug in the app")

    server = LeanServer(broken)
    listener = listening_socket("127.0.0.1", 0)
    await server.start(listener)
    try:
        reader, writer = await asyncio.open_connection(sock=socket.create_connection(listener.getsockname()))
        writer.write(b"GET /anything HTTP/1.1\r\nHost: e\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)  # read() returns at EOF: the server closed
        writer.close()
    finally:
        await server.stop()
        listener.close()
    assert answer.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert "bug in the app" in caplog.text
