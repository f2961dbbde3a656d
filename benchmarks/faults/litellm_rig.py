"""The same rig with LiteLLM's proxy in place of our gateway, for the side-by-side columns.

LiteLLM runs from its own environment (its pins clash with ours), found by ``INFEROPT_LITELLM`` (the
path of its ``litellm`` command) or on ``PATH``; ``scripts/install_litellm.sh`` makes one. Its config
is what a user of LiteLLM would write for the same job: two deployments, ``fallbacks`` and
``context_window_fallbacks`` from the primary to the backup, the per-deployment ``timeout`` and
``stream_timeout`` set to our router's deadlines (LiteLLM's own default is 10 minutes), the fault
script sent as the deployment's ``extra_headers``; for the two-replica row, cool-downs shared
through the same Redis. Everything else is LiteLLM's default.

LiteLLM is judged by what its caller sees (:func:`grade`), in the published suite's four classes:
``pass`` (the expected answer, upstream requests and latency), ``partial`` (the expected answer at
more requests or time), ``safe`` (an error the caller sees, as an HTTP status or raised mid-stream,
instead of an answer) and ``fail`` (a cut or wrong answer handed over as if whole).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import openai
from harness import KEY_ENV, MODEL, PREFILL_MODEL, Rig, Run, ask, counted, emulators
from scenarios import Bounds, Scenario, judge

from inferopt.emulator import EmulatorServer
from inferopt.pricing.cost import cost_of
from inferopt.types import Usage

ROUTE = "router/safe"  # the caller's model name, as on our gateway
MASTER_KEY = "sk-" + secrets.token_hex(32)  # LiteLLM refuses to start without one (our gateway: keys optional)


def find_litellm() -> str | None:
    """The ``litellm`` command to run, or None when there is none."""
    return os.environ.get("INFEROPT_LITELLM") or shutil.which("litellm")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _deployment(name: str, model: str, base_url: str, fault: str, bounds: Bounds) -> dict[str, Any]:
    return {
        "model_name": name,
        "litellm_params": {
            "model": model,
            "api_base": base_url,
            "api_key": os.environ[KEY_ENV],
            "extra_headers": {"x-emulator-fault": fault},
            "timeout": bounds.attempt_s,
            "stream_timeout": bounds.first_token_s,
        },
    }


def config(rig: Rig, bounds: Bounds, primary: EmulatorServer, fallback: EmulatorServer) -> dict[str, Any]:
    anthropic = rig.fallback_wire == "anthropic"
    backup = (
        _deployment("backup", f"anthropic/{PREFILL_MODEL}", fallback.anthropic_base_url, rig.fallback, bounds)
        if anthropic
        else _deployment("backup", f"openai/{MODEL}", fallback.openai_base_url, rig.fallback, bounds)
    )
    router: dict[str, Any] = {
        "fallbacks": [{ROUTE: ["backup"]}],
        "context_window_fallbacks": [{ROUTE: ["backup"]}],
    }
    if rig.replicas > 1:
        router.update(redis_host="127.0.0.1", redis_port=6379)
    return {
        "model_list": [_deployment(ROUTE, f"openai/{MODEL}", primary.openai_base_url, rig.primary, bounds), backup],
        "router_settings": router,
        "litellm_settings": {"telemetry": False, "drop_params": True},
        "general_settings": {"master_key": MASTER_KEY},
    }


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, within_s: float = 120.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"LiteLLM's proxy exited ({process.returncode}):\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/health/liveliness", timeout=1.0):
                return
        except OSError:
            time.sleep(0.25)
    raise SystemExit(f"LiteLLM's proxy did not start within {within_s:.0f} s:\n{log.read_text()[-2000:]}")


@contextmanager
def running(
    rig: Rig, bounds: Bounds, command: str
) -> Iterator[tuple[list[openai.OpenAI], EmulatorServer, EmulatorServer]]:
    """Both emulators and ``rig.replicas`` LiteLLM proxies over them; a client per proxy."""
    with ExitStack() as stack:
        folder, primary, fallback = emulators(stack)
        path = folder / "litellm.yaml"  # JSON is YAML
        path.write_text(json.dumps(config(rig, bounds, primary, fallback)), encoding="utf-8")
        clients = []
        for n in range(rig.replicas):
            port, log = _free_port(), folder / f"litellm{n}.log"
            env = {**os.environ, "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"}
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [command, "--config", str(path), "--host", "127.0.0.1", "--port", str(port)],
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            stack.callback(_stop, process)
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, process, log)
            clients.append(
                stack.enter_context(
                    openai.OpenAI(base_url=url + "/v1", api_key=MASTER_KEY, max_retries=0, timeout=300.0)
                )
            )
        yield clients, primary, fallback


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure(rig: Rig, bounds: Bounds, command: str, prompts: list[list[Any]], stream: bool, max_tokens: int) -> Run:
    """As :func:`harness.measure`, through LiteLLM. Its cost is not read: ``cost_usd`` is the price of the
    usage the caller saw, so the accounting rows judge usage only."""
    with running(rig, bounds, command) as (clients, primary, fallback):
        calls = [ask(clients[i % len(clients)], messages, stream, max_tokens) for i, messages in enumerate(prompts)]
        first = calls[0]
        return counted(
            calls, primary, fallback, cost_of(Usage(first.prompt_tokens, first.completion_tokens), MODEL), 0, 0
        )


def grade(scenario: Scenario, run: Run, healthy: Any, bounds: Bounds, stream: bool) -> tuple[str, list[str]]:
    """pass / partial / safe / fail, and why (see the module's docstring)."""
    verdict = judge(scenario, run, healthy, bounds, stream)
    problems = [p for p in verdict.problems if p != "no rescue counted"]  # a count only our gateway keeps
    if not problems:
        return "pass", []
    answered = all(c.ok and c.finish == "stop" and c.text for c in run.calls)
    same = scenario.outcome != "same" or all(c.text == healthy.text for c in run.calls)
    if answered and same and all(p.startswith(("upstream", "extra latency")) for p in problems):
        return "partial", problems
    if answered and scenario.outcome.startswith("error:"):  # answered what the provider refused
        return "partial", problems
    if all(
        not c.ok or (c.finish == "stop" and (c.text == healthy.text or scenario.outcome != "same")) for c in run.calls
    ):
        return "safe", problems  # every call answered whole or ended in an error the caller saw
    return "fail", problems
