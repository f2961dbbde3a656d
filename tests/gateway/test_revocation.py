"""Revoking a key reaches every replica within a second: two ``inferopt serve`` processes, one Redis."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from inferopt.gateway.keys_redis import RedisKeyStore

USER: Any = [{"role": "user", "content": "Say hello."}]


def start_replica(keys_url: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "inferopt", "serve", "--port", str(port), "--keys", keys_url]
    with open(folder / f"gateway-{port}.log", "wb") as log:
        return subprocess.Popen(command, cwd=folder, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)


def wait_healthy(process: subprocess.Popen[bytes], port: int, folder: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited: {(folder / f'gateway-{port}.log').read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("gateway did not become healthy in 60 s")


@pytest.fixture
def two_replicas(redis_process: Any, tmp_path: Path, pick_port: Callable[[], int]) -> Iterator[list[int]]:
    ports = [pick_port(), pick_port()]
    processes = [start_replica(redis_process.url, port, tmp_path) for port in ports]
    try:
        for process, port in zip(processes, ports, strict=True):
            wait_healthy(process, port, tmp_path)
        yield ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=15)


async def test_a_revoked_key_stops_working_on_every_replica_within_one_second(
    redis_process: Any, two_replicas: list[int]
) -> None:
    admin = RedisKeyStore(redis_process.url)
    key, secret = await admin.create("leaver")
    clients = [
        openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=secret, max_retries=0)
        for port in two_replicas
    ]
    for client in clients:  # each replica has the key in its local cache now
        await client.chat.completions.create(model="gpt-4o-mini", messages=USER, max_tokens=5)
    await admin.revoke(key.id)
    revoked_at = time.monotonic()

    async def refused_after(client: openai.AsyncOpenAI) -> float:
        while time.monotonic() - revoked_at < 5:
            try:
                await client.chat.completions.create(model="gpt-4o-mini", messages=USER, max_tokens=5)
            except openai.AuthenticationError as exc:
                assert "revoked" in exc.message
                return time.monotonic() - revoked_at
            await asyncio.sleep(0.02)
        return float("inf")

    delays = await asyncio.gather(*(refused_after(c) for c in clients))
    assert max(delays) < 1.0, delays
    for client in clients:
        await client.close()
    await admin.aclose()
