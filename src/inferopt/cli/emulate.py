"""``inferopt emulate``: run the local provider emulator as a server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from inferopt.cli.common import clean_errors

if TYPE_CHECKING:
    from inferopt.emulator import EmulatorConfig

_RATE = click.FloatRange(0.0, 1.0)


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
@click.option("--error-rate", type=_RATE, default=0.0, help="Share of requests answered 500.")
@click.option(
    "--rate-limit-rate", type=_RATE, default=0.0, help="Share of requests that start a 1 s burst of 429s (Retry-After)."
)
@click.option(
    "--hang-rate", type=_RATE, default=0.0, help="Share of requests never answered (until the client gives up)."
)
@click.option("--drop-rate", type=_RATE, default=0.0, help="Share of answers whose connection closes part-way.")
@click.option(
    "--drop-after-fraction",
    type=_RATE,
    default=0.5,
    show_default=True,
    help="Where a dropped or stalled answer stops: this fraction of its chunks (or body).",
)
@click.option("--stall-rate", type=_RATE, default=0.0, help="Share of answers that go silent part-way.")
@click.option(
    "--slow-first-token",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="S",
    help="Every answer's first token (a whole answer: its body) S seconds later.",
)
@clean_errors
def emulate(
    host: str,
    port: int,
    seed: int,
    profiles_file: str | None,
    replay_paths: tuple[str, ...],
    latency: float | None,
    **faults: float,
) -> None:
    """Serve OpenAI chat completions and Anthropic messages locally.

    Point the official SDKs at it: OpenAI(base_url="http://HOST:PORT/v1", api_key="any") or
    Anthropic(base_url="http://HOST:PORT", api_key="any"). Every answer is marked as emulated.
    Faults are drawn per request from the seed (a rerun replays them); a request can also script its
    own with the x-emulator-fault header (docs/faults.md).
    """
    from inferopt.emulator import serve

    config = emulator_config(seed, profiles_file, replay_paths, latency, **faults)
    click.echo(
        f"inferopt emulator on http://{host}:{port} (OpenAI: /v1/chat/completions, "
        f"Anthropic: /v1/messages); Ctrl-C stops it",
        err=True,
    )
    if config.faults.any or config.faults.slow_first_token_s:
        click.echo(f"faults: {_described(config)}", err=True)
    serve(config, host=host, port=port)


def emulator_config(
    seed: int,
    profiles_file: str | None,
    replay_paths: tuple[str, ...],
    latency: float | None,
    *,
    error_rate: float = 0.0,
    rate_limit_rate: float = 0.0,
    hang_rate: float = 0.0,
    drop_rate: float = 0.0,
    drop_after_fraction: float = 0.5,
    stall_rate: float = 0.0,
    slow_first_token: float = 0.0,
) -> EmulatorConfig:
    """The emulator the command line asks for (the flags map one to one onto :class:`FaultConfig`)."""
    from inferopt.emulator import EmulatorConfig, ProfileOverrides
    from inferopt.emulator.config import FaultConfig

    faults = FaultConfig(
        error_rate=error_rate,
        rate_limit_rate=rate_limit_rate,
        hang_rate=hang_rate,
        drop_rate=drop_rate,
        drop_after_fraction=drop_after_fraction,
        stall_rate=stall_rate,
        slow_first_token_s=slow_first_token,
    )
    return EmulatorConfig(
        seed=seed,
        profiles_file=profiles_file,
        replay_paths=list(replay_paths),
        overrides=ProfileOverrides(fixed_latency_s=latency),
        faults=faults,
    )


def _described(config: EmulatorConfig) -> str:
    f = config.faults
    rates = {"error": f.error_rate, "429 burst": f.rate_limit_rate, "hang": f.hang_rate, "drop": f.drop_rate}
    rates["stall"] = f.stall_rate
    parts = [f"{name} {rate:.0%}" for name, rate in rates.items() if rate]
    if f.drop_rate or f.stall_rate:
        parts.append(f"cut after {f.drop_after_fraction:.0%} of an answer")
    if f.slow_first_token_s:
        parts.append(f"first token {f.slow_first_token_s:g} s late")
    return ", ".join(parts)
