"""The HTTP/1.1 client under the chat adapters: pooling, limits, timeouts and broken answers, over loopback."""

from __future__ import annotations

import asyncio
import gc
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, FaultConfig, ProfileOverrides
from inferopt.errors import ProviderConnectionError, ProviderTimeoutError
from inferopt.providers.base import Provider
from inferopt.providers.http import Timeouts, TransportFailure, split_lines
from inferopt.providers.http1 import Http1Session
from inferopt.providers.openai import OpenAIChatModel
from inferopt.types import ChatRequest

ASK = ChatRequest.of("Say something", model="gpt-4o-mini", max_tokens=5)


class CountingServer:
    """A tiny HTTP/1.1 server that counts connections and answers each request after ``delay_s``."""

    def __init__(self, delay_s: float = 0.0, answers: int | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.delay_s = delay_s
        self.answers = answers  # after this many answers it goes silent (reads, never answers)
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        port = self._server.sockets[0].getsockname()[1]
        return f"https://localhost:{port}" if self.tls else f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    int(line[15:]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                await asyncio.sleep(self.delay_s)
                if self.answers is not None:
                    if self.answers == 0:
                        continue
                    self.answers -= 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Seen: Yes\r\nContent-Length: 2\r\n\r\n{}"
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_now -= 1
            writer.close()


def session(url: str, *, read_s: float = 10.0, max_connections: int = 100) -> Http1Session:
    return Http1Session(url, Timeouts(read_s=read_s, connect_s=5.0), max_connections=max_connections)


async def test_sequential_requests_reuse_one_connection() -> None:
    server = CountingServer()
    async with server as url:
        http = session(url)
        answers = [await http.post("/x", b"{}", {"Authorization": "Bearer k"}) for _ in range(20)]
        await http.aclose()
    assert [status for status, _, _ in answers] == [200] * 20 and answers[0][2] == b"{}"
    assert answers[0][1]["x-seen"] == "Yes"  # header names come lower-case
    assert server.connections == 1


async def test_concurrent_requests_open_at_most_max_connections() -> None:
    server = CountingServer(delay_s=0.02)
    async with server as url:
        http = session(url, max_connections=3)
        answers = await asyncio.gather(*(http.post("/x", b"{}", {}) for _ in range(30)))
        await http.aclose()
    assert all(status == 200 for status, _, _ in answers)
    assert server.most_open == 3 and server.connections == 3


async def test_silence_longer_than_the_read_timeout_is_a_timeout_error() -> None:
    config = EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0), faults=FaultConfig(hang_rate=1.0))
    with EmulatorServer(config) as emulator:
        model = OpenAIChatModel(Provider("emu", emulator.openai_base_url, api_key="sk", timeout_s=0.3))
        started = time.monotonic()
        with pytest.raises(ProviderTimeoutError, match="no answer within the timeout"):
            await model.complete(ASK)
        elapsed = time.monotonic() - started
        await model.aclose()
    assert 0.3 <= elapsed < 1.5


async def test_a_kept_alive_connection_still_times_out_a_later_silent_answer() -> None:
    server = CountingServer(answers=2)
    async with server as url:
        http = session(url, read_s=0.3)
        assert (await http.post("/x", b"{}", {}))[0] == 200
        await asyncio.sleep(0.4)  # longer than the timeout while idle: an idle connection never times out
        assert (await http.post("/x", b"{}", {}))[0] == 200
        started = time.monotonic()
        with pytest.raises(TransportFailure, match=r"no data from the server for 0\.3 s"):
            await http.post("/x", b"{}", {})
        elapsed = time.monotonic() - started
        await http.aclose()
    assert server.connections == 1 and 0.3 <= elapsed < 1.0


async def test_a_connection_closed_mid_answer_is_a_connection_error_and_not_reused() -> None:
    config = EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0), faults=FaultConfig(drop_rate=1.0))
    with EmulatorServer(config) as emulator:
        model = OpenAIChatModel(Provider("emu", emulator.openai_base_url, api_key="sk"))
        for _ in range(3):  # each attempt gets a fresh connection and the same clear error
            with pytest.raises(ProviderConnectionError, match="closed the connection mid-answer"):
                await model.complete(ASK)
        with pytest.raises(ProviderConnectionError, match="closed the connection mid-answer"):
            async for _ in model.stream(ASK):
                pass
        await model.aclose()


async def test_nothing_listening_is_a_connection_error_naming_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # a free port, closed again: nothing listens there
    model = OpenAIChatModel(Provider("down", f"http://127.0.0.1:{port}/v1", api_key="sk"))
    with pytest.raises(ProviderConnectionError, match=f"is http://127.0.0.1:{port}/v1 reachable"):
        await model.complete(ASK)
    await model.aclose()


async def test_a_cancelled_call_drops_its_connection_and_the_pool_recovers() -> None:
    server = CountingServer(delay_s=0.3)
    async with server as url:
        http = session(url, max_connections=1)
        slow = asyncio.ensure_future(http.post("/x", b"{}", {}))
        await asyncio.sleep(0.05)
        slow.cancel()
        server.delay_s = 0.0
        status, _, _ = await asyncio.wait_for(http.post("/x", b"{}", {}), 5)
        await http.aclose()
    assert status == 200 and server.connections == 2  # the cancelled answer's connection was not reused


def test_bad_base_url_and_header_line_breaks_are_refused_with_the_cause() -> None:
    with pytest.raises(ValueError, match="must start with http:// or https://"):
        session("ftp://example.com")
    with pytest.raises(ValueError, match="'Authorization' contains a line break"):
        session("http://127.0.0.1:1")._request("/x", b"{}", {"Authorization": "Bearer sk-key\n"})


async def test_lines_split_across_chunks_keep_crlf_as_one_line_end() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in (b"event: a\r", b"\ndata: 1\r\n\r", b"\ndata: 2\rdata: 3\n", b"tail"):
            yield piece

    assert [line async for line in split_lines(chunks())] == ["event: a", "data: 1", "", "data: 2", "data: 3", "tail"]


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and its key, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed (apt-get install openssl): it makes the test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
    names = ["-addext", "subjectAltName=DNS:localhost"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(["openssl", *request, *names, *files], check=True, capture_output=True)
    return cert, key


async def test_https_verifies_the_server_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = self_signed_certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    async with CountingServer(tls=tls) as url:
        untrusting = session(url)
        with pytest.raises(TransportFailure, match="CERTIFICATE_VERIFY_FAILED") as refused:
            await untrusting.post("/x", b"{}", {})
        assert refused.value.kind == "connect"
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # now the system trust store includes it
        trusting = session(url)
        status, headers, body = await trusting.post("/x", b"{}", {})
        await trusting.aclose()
    assert (status, headers["x-seen"], body) == (200, "Yes", b"{}")


# The first loop closes with its connection still open (as any client left open across asyncio.run
# calls does), so the interpreter warns about that socket when it is collected: not what is tested here.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_model_used_from_a_second_event_loop_opens_fresh_connections() -> None:
    with EmulatorServer(EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0))) as emulator:
        model = OpenAIChatModel(Provider("emu", emulator.openai_base_url, api_key="sk"))
        first = asyncio.run(model.complete(ASK))  # its connection belongs to a loop that then closes
        second = asyncio.run(model.complete(ASK))
        asyncio.run(model.aclose())
    gc.collect()  # the first loop's socket is collected (and warned about) here, inside this test
    assert first.content == second.content and second.emulated
