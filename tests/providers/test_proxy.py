"""Calls through an HTTP proxy: configured per provider, or from HTTPS_PROXY/HTTP_PROXY/NO_PROXY."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest

from inferopt.client import AsyncClient
from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.providers.proxy import proxy_for
from inferopt.types import StreamDone


def test_environment_proxy_applies_except_to_loopback_and_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "internal.corp,.svc")
    assert proxy_for("https://api.openai.com/v1") == "http://proxy.corp:3128"
    assert proxy_for("http://127.0.0.1:8100/v1") is None  # a local emulator or vLLM is not behind it
    assert proxy_for("https://llm.internal.corp/v1") is None
    assert proxy_for("https://vllm.team.svc/v1") is None
    assert proxy_for("http://api.example.com/v1") is None  # HTTP_PROXY unset: plain http goes direct
    assert proxy_for("https://api.openai.com/v1", "") is None  # '' in the config turns it off
    assert proxy_for("http://127.0.0.1:8100/v1", "http://127.0.0.1:9") == "http://127.0.0.1:9"  # configured wins


class ForwardProxy:
    """A plain-HTTP forward proxy on loopback, one request per connection, counting what it forwards."""

    def __init__(self) -> None:
        self.forwarded: list[str] = []
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, _, rest = head.partition(b"\r\n")
        method, target, version = request_line.split(b" ")
        url = urlsplit(target.decode())  # absolute form: the proxy decides where it goes
        self.forwarded.append(f"{method.decode()} {url.path}")
        lines = [h for h in rest.split(b"\r\n") if h and not h.lower().startswith((b"connection:", b"proxy-"))]
        length = next((int(h.split(b":")[1]) for h in lines if h.lower().startswith(b"content-length:")), 0)
        body = await reader.readexactly(length)
        upstream_reader, upstream_writer = await asyncio.open_connection(url.hostname, url.port)
        upstream_writer.write(b"\r\n".join([b" ".join((method, url.path.encode(), version)), *lines]))
        upstream_writer.write(b"\r\nConnection: close\r\n\r\n" + body)
        while chunk := await upstream_reader.read(65536):  # the answer, streamed or not, until it ends
            writer.write(chunk)
            await writer.drain()
        upstream_writer.close()
        writer.close()

    async def __aenter__(self) -> ForwardProxy:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=1, overrides=ProfileOverrides(fixed_latency_s=0.0))) as running:
        yield running


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy() as running:
        yield running


async def test_a_configured_proxy_carries_plain_and_streamed_calls(
    emulator: EmulatorServer, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMU_KEY", "sk-emulator")
    emu = {"kind": "openai", "base_url": emulator.openai_base_url, "api_key_env": "EMU_KEY", "proxy": proxy.url}
    config = parse_config(
        {
            "providers": {"emu": emu},
            "default_model": "emu/gpt-4o-mini",
        }
    )
    async with AsyncClient(config) as client:
        answer = await client.complete("Name a river", max_tokens=5)
        events = [e async for e in client.stream("Name a lake", max_tokens=5)]
    assert answer.emulated and answer.usage.output_tokens == 5
    assert isinstance(events[-1], StreamDone) and events[-1].response.usage.output_tokens == 5
    assert proxy.forwarded == ["POST /v1/chat/completions"] * 2
