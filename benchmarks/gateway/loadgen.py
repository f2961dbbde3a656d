"""A minimal HTTP/1.1 load generator: raw keep-alive sockets and httptools' parser.

An SDK or httpx client would cost more CPU per request than the gateway under test (this machine
has two cores for the client, the gateway and the upstream), so requests are pre-encoded bytes.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httptools


def encode_post(path: str, body: dict[str, Any], host: str = "127.0.0.1") -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer sk-bench\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


class _Response:
    def __init__(self) -> None:
        self.first_body_at: float | None = None
        self.complete = False
        self.status = 0

    def on_body(self, body: bytes) -> None:
        if self.first_body_at is None:
            self.first_body_at = time.perf_counter()

    def on_message_complete(self) -> None:
        self.complete = True


class Connection:
    """One keep-alive connection sending one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, float | None]:
        """Send and read one response: (status, time of first body byte)."""
        response = _Response()
        parser = httptools.HttpResponseParser(response)
        self.writer.write(request)
        while not response.complete:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            parser.feed_data(data)
        return parser.get_status_code(), response.first_body_at

    def close(self) -> None:
        self.writer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Run:
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies_s) / self.elapsed_s if self.elapsed_s else 0.0


async def closed_loop(host: str, port: int, request: bytes, connections: int, duration_s: float) -> Run:
    """``connections`` clients each sending back to back: the server's maximum throughput."""
    run = Run()
    conns = [await Connection.open(host, port) for _ in range(connections)]
    stop_at = time.perf_counter() + duration_s

    async def client(conn: Connection) -> None:
        while time.perf_counter() < stop_at:
            sent = time.perf_counter()
            status, _ = await conn.send(request)
            if status != 200:
                run.errors += 1
            run.latencies_s.append(time.perf_counter() - sent)

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in conns))
    run.elapsed_s = time.perf_counter() - started
    for conn in conns:
        conn.close()
    return run


async def fixed_rate(host: str, port: int, request: bytes, rate: float, duration_s: float) -> Run:
    """Open loop: requests start on a fixed schedule whatever the server does; latency counts from the
    scheduled start, so a slow server cannot hide its queueing (no coordinated omission)."""
    run = Run()
    idle: list[Connection] = [await Connection.open(host, port) for _ in range(8)]
    tasks: list[asyncio.Task[None]] = []

    async def one(scheduled: float) -> None:
        conn = idle.pop() if idle else await Connection.open(host, port)
        try:
            status, _ = await conn.send(request)
        except ConnectionError:
            run.errors += 1
            return
        run.latencies_s.append(time.perf_counter() - scheduled)
        if status != 200:
            run.errors += 1
        idle.append(conn)

    started = time.perf_counter()
    total = int(rate * duration_s)
    for i in range(total):
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    run.elapsed_s = time.perf_counter() - started
    for conn in idle:
        conn.close()
    return run


async def stream_ttfb(host: str, port: int, request: bytes, count: int) -> list[float]:
    """Sequential streamed requests: seconds from sending to the first body byte."""
    conn = await Connection.open(host, port)
    out = []
    for _ in range(count):
        sent = time.perf_counter()
        _, first = await conn.send(request)
        out.append((first or time.perf_counter()) - sent)
    conn.close()
    return out
