"""/metrics, /dashboard/data and ``inferopt serve`` with no config (the emulator behind it)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai

from inferopt.emulator import EmulatorServer
from inferopt.gateway.metrics import GatewayMetrics

USER: Any = [{"role": "user", "content": "Name three rivers."}]


def test_metrics_count_what_was_served(emulator: EmulatorServer, start_gateway: Any) -> None:
    gateway = start_gateway(emulator)
    with openai.OpenAI(base_url=gateway.openai_base_url, api_key="k", max_retries=0) as client:
        for _ in range(3):
            client.chat.completions.create(model="fast", messages=USER, max_tokens=5)
        list(client.chat.completions.create(model="haiku", messages=USER, max_tokens=5, stream=True))
    text = httpx.get(gateway.url + "/metrics").text
    assert 'inferopt_gateway_requests_total{route="/v1/chat/completions",model="fast",status="200"} 3' in text
    assert 'inferopt_gateway_requests_total{route="/v1/chat/completions",model="haiku",status="200"} 1' in text
    assert 'inferopt_gateway_request_seconds_count{route="/v1/chat/completions"} 4' in text
    cost = re.search(r'inferopt_gateway_cost_usd_total\{model="fast"\} (\S+)', text)
    assert cost is not None and float(cost.group(1)) > 0
    assert 'inferopt_gateway_tokens_total{model="fast",kind="output"} 15' in text


def test_dashboard_snapshot_covers_the_last_seconds() -> None:
    now = [1000.2]
    metrics = GatewayMetrics(clock=lambda: now[0])
    for latency in (0.010, 0.020, 0.030, 0.040):
        metrics.record("/v1/chat/completions", "fast", 200, latency, cost_usd=0.5, cache="hit")
    metrics.record("/v1/chat/completions", "smart", 500, 1.0, cache="miss")
    assert metrics.snapshot()["requests_per_s"] == 0  # the current second is not complete yet
    now[0] = 1001.0
    data = metrics.snapshot(window_s=10)
    assert data["requests_per_s"] == 0.5 and data["errors_per_s"] == 0.1
    assert data["latency_p50_ms"] == 30.0 and data["latency_p95_ms"] == 1000.0
    assert data["cache_hit_rate"] == 0.8 and data["cost_usd_window"] == 2.0
    assert data["models_per_s"] == {"fast": 0.4, "smart": 0.1}
    now[0] = 1020.0
    assert metrics.snapshot(window_s=10)["requests_per_s"] == 0  # old seconds fall out of the window


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_inferopt_serve_alone_gives_a_working_gateway_over_the_emulator() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "INFEROPT_CONFIG"}
    process = subprocess.Popen(
        [sys.executable, "-m", "inferopt", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0) as client:
            raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER, max_tokens=8)
            assert raw.parse().usage.completion_tokens == 8  # type: ignore[union-attr]
            assert raw.headers["x-inferopt-emulated"] == "true"
            assert "gpt-4o-mini" in [m.id for m in client.models.list()]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=15)
    assert b"using the built-in emulator" in stderr and b"inferopt gateway on" in stderr


def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"gateway did not start: {process.stderr.read() if process.stderr else b''!r}")


def test_every_worker_answers_metrics_for_the_whole_server(tmp_path: Any) -> None:
    port = free_port()
    folder = tmp_path / "metrics"
    env = {k: v for k, v in os.environ.items() if k != "INFEROPT_CONFIG"}
    env["INFEROPT_GATEWAY_METRICS_DIR"] = str(folder)
    process = subprocess.Popen(
        [sys.executable, "-m", "inferopt", "serve", "--port", str(port), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        wait_healthy(port, process)
        body = {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 3}

        def ask(_: int) -> int:
            with httpx.Client() as fresh:  # a new connection each time: the kernel spreads them over workers
                return fresh.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(ask, range(80))) == {200}
        time.sleep(1.5)  # workers publish their counters every second
        per_worker = [json.loads(p.read_text())["requests"] for p in folder.glob("*.json")]
        served = [sum(row[3] for row in rows if row[0] == "/v1/chat/completions") for rows in per_worker]
        assert len(served) == 2 and min(served) > 0, served  # both workers answered some
        pattern = r'inferopt_gateway_requests_total\{route="/v1/chat/completions",model="gpt-4o-mini",status="200"\} 80'
        for _ in range(6):  # whichever worker answers the scrape, it reports the whole server
            with httpx.Client() as fresh:
                assert re.search(pattern, fresh.get(f"http://127.0.0.1:{port}/metrics").text)
    finally:
        process.terminate()
        process.communicate(timeout=15)
    assert not list(folder.glob("*.json"))  # workers withdraw their files when they stop


def test_keys_commands_create_list_and_revoke(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from inferopt.cli.main import cli

    store = str(tmp_path / "keys.db")
    runner = CliRunner()
    created = runner.invoke(
        cli, ["keys", "create", "--store", store, "--name", "team-a", "--budget", "2.5", "--model", "fast"]
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("sk-io-")
    listed = runner.invoke(cli, ["keys", "list", "--store", store])
    assert "team-a" in listed.output and "of $2.5000" in listed.output and "models fast" in listed.output
    assert secret not in listed.output
    key_id = listed.output.split()[0]
    assert runner.invoke(cli, ["keys", "revoke", "--store", store, key_id]).exit_code == 0
    again = runner.invoke(cli, ["keys", "revoke", "--store", store, key_id])
    assert again.exit_code == 1 and "no key with id" in again.output
    refused = runner.invoke(cli, ["serve", "--keys", "memory"])
    assert refused.exit_code == 2 and "use a SQLite file" in refused.output
