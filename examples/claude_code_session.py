"""A Claude-Code-like agent session through the gateway, with the official ``anthropic`` SDK.

What a coding agent sends, turn after turn: a long system prompt and a tool list, each behind a
one-hour ``cache_control`` breakpoint, a moving five-minute breakpoint on the latest message,
extended thinking, tool calls answered by tool results, every assistant turn (thinking blocks and
their signatures included) sent back as it came, streamed. Prints each turn's usage, the share of
prompt tokens read from the provider's prompt cache and the session's cost::

    python examples/claude_code_session.py              # an emulator and a gateway on loopback, 20 turns
    python examples/claude_code_session.py --turns 40
    python examples/claude_code_session.py --base-url http://127.0.0.1:8080   # your running gateway

Used by ``tests/gateway/test_claude_code_session.py``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

import anthropic

from inferopt.pricing import cost_of
from inferopt.types import Usage

MODEL = "claude-sonnet-4-5"
_RULES = (
    "You are a coding agent working in a Python repository. Read files before you change them, keep "
    "changes small, run the tests after each change and report what you did. Never print secrets. "
)
SYSTEM = [{"type": "text", "text": _RULES * 60, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
TOOLS: list[dict[str, Any]] = [
    {
        "name": name,
        "description": description,
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    }
    for name, description in (
        ("read_file", "Read a file of the repository and return its text."),
        ("run_tests", "Run the test suite under a path and return the summary line."),
        ("edit_file", "Apply the planned edit to a file and return the diff."),
    )
]
TOOLS[-1]["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
TASKS = ("Fix the failing test in tests/test_cache.py.", "Now make the error message name the file.")


@dataclass
class Session:
    """What a session cost and how much of its prompt the provider's cache served."""

    turns: int = 0
    tool_calls: int = 0
    thinking_blocks: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0

    @property
    def cache_read_share(self) -> float:
        return self.usage.cache_read_tokens / self.usage.input_tokens if self.usage.input_tokens else 0.0


def _with_breakpoint(message: dict[str, Any]) -> dict[str, Any]:
    blocks = message["content"]
    if isinstance(blocks, str):
        blocks = [{"type": "text", "text": blocks}]
    last = {**blocks[-1], "cache_control": {"type": "ephemeral"}}
    return {**message, "content": [*blocks[:-1], last]}


def _neutral(usage: Any) -> Usage:
    """Anthropic's usage (input excludes cache reads and writes) in inferopt's convention."""
    read, write = usage.cache_read_input_tokens or 0, usage.cache_creation_input_tokens or 0
    split = usage.cache_creation
    write_1h = (split.ephemeral_1h_input_tokens or 0) if split is not None else 0
    return Usage(usage.input_tokens + read + write, usage.output_tokens, read, write, write_1h)


def run(client: anthropic.Anthropic, turns: int = 20, model: str = MODEL) -> Session:
    """``turns`` streamed calls of one agent session; raises on any refused turn."""
    session = Session()
    messages: list[dict[str, Any]] = [{"role": "user", "content": TASKS[0]}]
    for turn in range(turns):
        # The breakpoint moves to the newest message, as Claude Code places it.
        sent = [*messages[:-1], _with_breakpoint(messages[-1])]
        with client.messages.stream(
            model=model,
            max_tokens=4000,
            system=SYSTEM,
            tools=TOOLS,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=sent,
        ) as stream:
            final = stream.get_final_message()
        usage = _neutral(final.usage)
        session.turns += 1
        session.usage = session.usage + usage
        session.cost_usd += cost_of(usage, model) or 0.0
        session.thinking_blocks += sum(b.type == "thinking" for b in final.content)
        messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]})
        calls = [b for b in final.content if b.type == "tool_use"]
        session.tool_calls += len(calls)
        if calls:
            results = [{"type": "tool_result", "tool_use_id": c.id, "content": f"ok: {c.name} done"} for c in calls]
            messages.append({"role": "user", "content": results})
        else:
            messages.append({"role": "user", "content": TASKS[(turn + 1) % len(TASKS)]})
    return session


def report(session: Session) -> str:
    u = session.usage
    return (
        f"{session.turns} turns, {session.tool_calls} tool calls, {session.thinking_blocks} thinking blocks; "
        f"prompt {u.input_tokens} tokens, {u.cache_read_tokens} read from cache "
        f"({session.cache_read_share:.1%}), {u.cache_write_tokens} written ({u.cache_write_1h_tokens} with 1h TTL); "
        f"output {u.output_tokens}; cost ${session.cost_usd:.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--base-url", help="a running gateway (default: start an emulator and a gateway here)")
    args = parser.parse_args()
    if args.base_url:
        print(report(run(anthropic.Anthropic(base_url=args.base_url, api_key="sk-any"), args.turns)))
        return
    import os

    from inferopt.client import AsyncClient
    from inferopt.config import parse_config
    from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
    from inferopt.gateway import GatewayApp
    from inferopt.gateway.server import GatewayServer

    os.environ.setdefault("EMULATOR_KEY", "sk-emulated")
    with EmulatorServer(EmulatorConfig(overrides=ProfileOverrides(fixed_latency_s=0.0))) as emulator:
        provider = {"kind": "anthropic", "base_url": emulator.anthropic_base_url, "api_key_env": "EMULATOR_KEY"}
        models = {MODEL: {"provider": "claude", "model": MODEL}}
        config = parse_config({"providers": {"claude": provider}, "models": models})
        gateway = GatewayServer(GatewayApp(AsyncClient(config))).start()
        try:
            client = anthropic.Anthropic(base_url=gateway.anthropic_base_url, api_key="sk-any")
            print(report(run(client, args.turns)))
        finally:
            gateway.stop()


if __name__ == "__main__":
    main()
