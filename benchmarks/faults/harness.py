"""One fault scenario's rig: two emulators (primary and fallback), our gateway with a fallback router
over them, and the official ``openai`` SDK as the caller; every piece is real HTTP over loopback.

Each provider sends its own ``x-emulator-fault`` script (the provider's ``headers:`` config), and each
emulator counts the requests it received, so a scenario knows exactly what it cost upstream.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

from inferopt.client import AsyncClient
from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer
from inferopt.gateway import GatewayApp
from inferopt.gateway.server import GatewayServer

KEY_ENV = "INFEROPT_FAULT_SUITE_KEY"
MODEL = "gpt-4o-mini"
PREFILL_MODEL = "claude-haiku-4-5"  # the fallback that refuses prefill speaks Anthropic Messages
PRIMARY_WINDOW = 300  # the primary's context window (tokens): the context-length scenario overflows it
SEED = 7


@dataclass(slots=True)
class Call:
    """What the caller saw of one request."""

    ok: bool
    elapsed_s: float
    text: str = ""
    finish: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    status: int | None = None
    code: str | None = None
    error: str = ""


@dataclass(slots=True)
class Run:
    """One scenario in one mode: its calls and what the emulators and the gateway counted."""

    calls: list[Call]
    primary_requests: int
    fallback_requests: int
    upstream_prompt_tokens: int
    upstream_completion_tokens: int
    cost_usd: float
    rescued: int
    failed_streams: int
    notes: list[str] = field(default_factory=list)

    @property
    def extra_requests(self) -> int:
        return self.primary_requests + self.fallback_requests - len(self.calls)


@dataclass(frozen=True, slots=True)
class Rig:
    """What differs between scenarios: the two fault scripts, the fallback's wire, the router's options."""

    primary: str = "ok"
    fallback: str = "ok"
    fallback_wire: str = "openai"
    router: Mapping[str, Any] = field(default_factory=dict)
    replicas: int = 1  # gateway replicas, asked in turn (they share what the router config shares)


def _profiles_file(folder: Path) -> str:
    path = folder / "primary-profiles.json"
    path.write_text(json.dumps({"models": {MODEL: {"context_window": PRIMARY_WINDOW}}}), encoding="utf-8")
    return str(path)


def _config(rig: Rig, primary: EmulatorServer, fallback: EmulatorServer) -> Any:
    anthropic = rig.fallback_wire == "anthropic"
    return parse_config(
        {
            "providers": {
                "p1": _provider("openai", primary.openai_base_url, rig.primary),
                "p2": _provider(
                    rig.fallback_wire,
                    fallback.anthropic_base_url if anthropic else fallback.openai_base_url,
                    rig.fallback,
                ),
            },
            "models": {
                "primary": {"provider": "p1", "model": MODEL},
                "backup": {"provider": "p2", "model": PREFILL_MODEL if anthropic else MODEL},
            },
            "routers": {"safe": {"kind": "fallback", "order": ["primary", "backup"], **rig.router}},
        },
        source="fault-suite",
    )


def _provider(kind: str, base_url: str, fault: str) -> dict[str, Any]:
    return {"kind": kind, "base_url": base_url, "api_key_env": KEY_ENV, "headers": {"x-emulator-fault": fault}}


def emulators(stack: ExitStack) -> tuple[Path, EmulatorServer, EmulatorServer]:
    """A scratch folder, the primary (with its small context window) and the fallback, closed with ``stack``."""
    os.environ.setdefault(KEY_ENV, "sk-emulated-upstream")
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    primary = stack.enter_context(EmulatorServer(EmulatorConfig(seed=SEED, profiles_file=_profiles_file(folder))))
    return folder, primary, stack.enter_context(EmulatorServer(EmulatorConfig(seed=SEED)))


@contextmanager
def running(rig: Rig) -> Iterator[tuple[list[openai.OpenAI], EmulatorServer, EmulatorServer, list[GatewayServer]]]:
    """The rig, started: a client per gateway replica, both emulators, the replicas (stopped on exit)."""
    with ExitStack() as stack:
        _, primary, fallback = emulators(stack)
        gateways, clients = [], []
        for _ in range(rig.replicas):
            gateway = GatewayServer(GatewayApp(AsyncClient(_config(rig, primary, fallback)))).start()
            stack.callback(gateway.stop)
            gateways.append(gateway)
            clients.append(
                stack.enter_context(
                    openai.OpenAI(base_url=gateway.openai_base_url, api_key="sk-any", max_retries=0, timeout=300.0)
                )
            )
        yield clients, primary, fallback, gateways


def ask(client: openai.OpenAI, messages: list[Any], stream: bool, max_tokens: int) -> Call:
    """One request through ``router/safe``, timed to its last byte; an error is recorded, not raised."""
    started = time.perf_counter()
    try:
        if not stream:
            answer = client.chat.completions.create(model="router/safe", messages=messages, max_tokens=max_tokens)
            usage = answer.usage
            choice = answer.choices[0]
            return Call(
                True,
                time.perf_counter() - started,
                choice.message.content or "",
                choice.finish_reason,
                usage.prompt_tokens if usage else 0,
                usage.completion_tokens if usage else 0,
            )
        text, finish, prompt, completion = [], None, 0, 0
        chunks = client.chat.completions.create(
            model="router/safe",
            messages=messages,
            max_tokens=max_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in chunks:
            if chunk.choices:
                text.append(chunk.choices[0].delta.content or "")
                finish = chunk.choices[0].finish_reason or finish
            if chunk.usage is not None:
                prompt, completion = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
        return Call(True, time.perf_counter() - started, "".join(text), finish, prompt, completion)
    except openai.APIStatusError as exc:
        code = exc.body.get("code") if isinstance(exc.body, dict) else None
        return Call(False, time.perf_counter() - started, status=exc.status_code, code=code, error=str(exc)[:160])
    except openai.APIError as exc:  # a stream that ended with an error event, a dropped connection
        return Call(False, time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}"[:160])


def measure(rig: Rig, prompts: list[list[Any]], stream: bool, max_tokens: int) -> Run:
    """Send ``prompts`` one after the other through a fresh rig and count what it cost upstream."""
    with running(rig) as (clients, primary, fallback, gateways):
        # Round robin over the replicas: the second request goes to the second replica, if any.
        calls = [ask(clients[i % len(clients)], messages, stream, max_tokens) for i, messages in enumerate(prompts)]
        time.sleep(0.2)  # a stream's metrics and cost are booked as it closes, just after the caller's last byte
        every = [g.app.metrics for g in gateways]
        return counted(
            calls,
            primary,
            fallback,
            sum(sum(m.cost_usd.values()) for m in every),
            sum(m.streams_rescued for m in every),
            sum(m.streams_failed for m in every),
        )


def counted(
    calls: list[Call], primary: EmulatorServer, fallback: EmulatorServer, cost: float, rescued: int, failed: int
) -> Run:
    """The run: the calls, what both emulators counted, and what the proxy booked."""
    p, f = primary.stats_snapshot(), fallback.stats_snapshot()
    return Run(
        calls,
        p["requests_total"],
        f["requests_total"],
        p["prompt_tokens"] + f["prompt_tokens"],
        p["completion_tokens"] + f["completion_tokens"],
        cost,
        rescued,
        failed,
    )
