"""``inferopt ask``: stream one answer to the terminal, then its tokens, cost and latency."""

from __future__ import annotations

import asyncio
import sys

import click

from inferopt.cli.common import clean_errors, config_option, load_checked
from inferopt.client import AsyncClient
from inferopt.types import ChatResponse, StreamDone, TextDelta


def format_stats(response: ChatResponse) -> str:
    """One line: tokens (cached), cost, time to first token, total latency, who answered."""
    u = response.usage
    cached = f", {u.cache_read_tokens} cached" if u.cache_read_tokens else ""
    cost = "cost unknown" if response.cost_usd is None else f"${response.cost_usd:.6f}"
    ttft = "" if response.ttft_s is None else f" · TTFT {response.ttft_s * 1000:.0f} ms"
    latency = "" if response.latency_s is None else f" · {response.latency_s:.2f} s total"
    who = f"{response.model} via {response.provider}" + (" (emulated)" if response.emulated else "")
    return f"{u.input_tokens} in{cached} / {u.output_tokens} out tokens · {cost}{ttft}{latency} · {who}"


async def _ask(
    client: AsyncClient,
    prompt: str,
    model: str | None,
    system: str | None,
    max_tokens: int | None,
    temperature: float | None,
) -> ChatResponse:
    final: ChatResponse | None = None
    params = {k: v for k, v in (("max_tokens", max_tokens), ("temperature", temperature)) if v is not None}
    try:
        async for event in client.stream(prompt, model=model, system=system, **params):
            if isinstance(event, TextDelta):
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, StreamDone):
                final = event.response
    finally:
        await client.aclose()
    sys.stdout.write("\n")
    assert final is not None  # every stream ends with StreamDone or raises
    return final


@click.command()
@click.argument("prompt")
@click.option("--model", "-m", default=None, help="Alias, provider/model, or model id (default: the config's).")
@click.option("--system", "-s", default=None, help="System prompt.")
@click.option("--max-tokens", type=int, default=None, help="Cap on answer tokens.")
@click.option("--temperature", type=float, default=None)
@config_option
@clean_errors
def ask(
    prompt: str,
    model: str | None,
    system: str | None,
    max_tokens: int | None,
    temperature: float | None,
    config_path: str | None,
) -> None:
    """Stream the answer to PROMPT, then print tokens, cost and latency."""
    client = AsyncClient(load_checked(config_path))
    response = asyncio.run(_ask(client, prompt, model, system, max_tokens, temperature))
    click.echo(format_stats(response), err=True)
