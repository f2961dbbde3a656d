"""``inferopt emulate``: run the local provider emulator as a server."""

from __future__ import annotations

import click

from inferopt.cli.common import clean_errors


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8100, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed: same seed, same answers and latencies.")
@click.option(
    "--profiles",
    "profiles_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="JSON/YAML file overriding per-model profiles (latency, limits, errors).",
)
@click.option(
    "--replay",
    "replay_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="RouterBench-format CSV whose recorded answers are served (repeatable).",
)
@click.option("--latency", type=float, default=None, help="Every response takes exactly this many seconds.")
@clean_errors
def emulate(
    host: str,
    port: int,
    seed: int,
    profiles_file: str | None,
    replay_paths: tuple[str, ...],
    latency: float | None,
) -> None:
    """Serve OpenAI chat completions and Anthropic messages locally.

    Point the official SDKs at it: OpenAI(base_url="http://HOST:PORT/v1", api_key="any") or
    Anthropic(base_url="http://HOST:PORT", api_key="any"). Every answer is marked as emulated.
    """
    from inferopt.emulator import EmulatorConfig, ProfileOverrides, serve

    config = EmulatorConfig(
        seed=seed,
        profiles_file=profiles_file,
        replay_paths=list(replay_paths),
        overrides=ProfileOverrides(fixed_latency_s=latency),
    )
    click.echo(
        f"inferopt emulator on http://{host}:{port} (OpenAI: /v1/chat/completions, "
        f"Anthropic: /v1/messages); Ctrl-C stops it",
        err=True,
    )
    serve(config, host=host, port=port)
