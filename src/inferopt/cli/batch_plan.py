"""``inferopt batch plan``: what a job will cost and when it finishes, before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from inferopt.cli.common import clean_errors, config_option, load_checked, request_options
from inferopt.client import AsyncClient
from inferopt.config import Config
from inferopt.errors import InferoptError
from inferopt.parallel.jobs.batch_mode import parse_duration
from inferopt.parallel.jobs.rows import JobSpec
from inferopt.parallel.planner.allocate import Capacity
from inferopt.parallel.planner.command import plan_file

F = TypeVar("F", bound=Callable[..., Any])


def planning_options(func: F) -> F:
    """What the planner assumes of the providers (``batch plan`` and ``batch run --plan`` share them)."""
    for option in reversed(
        (
            click.option(
                "--latency",
                "latency_s",
                type=float,
                default=1.0,
                show_default=True,
                help="Seconds per realtime request.",
            ),
            click.option(
                "--flex-latency",
                "flex_latency_s",
                type=float,
                default=3.0,
                show_default=True,
                help="Seconds per flex request.",
            ),
            click.option(
                "--flex-refusal",
                type=float,
                default=0.05,
                show_default=True,
                help="Share of flex requests refused (429).",
            ),
            click.option(
                "--batch-typical", default="1h", show_default=True, help="How long a provider batch usually takes."
            ),
            click.option(
                "--batch-window", default="24h", show_default=True, help="How long a provider batch may take."
            ),
            click.option(
                "--answer-tokens",
                type=int,
                default=None,
                help="Expected answer length in tokens (default: --max-tokens, the most an answer can cost).",
            ),
        )
    ):
        func = option(func)
    return func


def capacity_for(
    config: Config,
    *,
    rpm: float | None,
    tpm: float | None,
    concurrency: int,
    latency_s: float,
    flex_latency_s: float,
    flex_refusal: float,
    batch_typical: str,
    batch_window: str,
    answer_tokens: int | None = None,
) -> Capacity:
    """The planner's capacity from the flags, else the config's rate_limit layer; bad values named."""
    if not 0.0 <= flex_refusal < 1.0:
        raise InferoptError(f"--flex-refusal must be in [0, 1) (got {flex_refusal}); e.g. --flex-refusal 0.05")
    if min(latency_s, flex_latency_s) <= 0 or concurrency < 1:
        raise InferoptError("--latency and --flex-latency must be over 0 and --concurrency at least 1")
    limits = _config_limits(config)
    return Capacity(
        rpm=rpm or limits.get("rpm"),
        tpm=tpm or limits.get("tpm"),
        concurrency=min(concurrency, int(limits.get("max_concurrency") or concurrency)),
        latency_s=latency_s,
        flex_latency_s=flex_latency_s,
        flex_refusal=flex_refusal,
        batch_typical_s=parse_duration(batch_typical),
        batch_window_s=parse_duration(batch_window),
        answer_tokens=answer_tokens,
    )


def _config_limits(config: Config) -> dict[str, Any]:
    """The rpm/tpm/max_concurrency of the config's rate_limit layer, if it has one."""
    for layer in config.stack:
        options = layer.get("rate_limit")
        if options:
            return dict(options)
    return {}


@click.command("plan")
@click.argument("input_path", metavar="INPUT.jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--deadline", required=True, help="When every row must be answered, e.g. 45m, 6h or 2d.")
@click.option("--budget", type=float, default=None, help="USD the job may cost; the plan warns when it predicts more.")
@request_options
@click.option("--rpm", type=float, default=None, help="Requests per minute (default: the config's rate_limit).")
@click.option("--tpm", type=float, default=None, help="Tokens per minute (default: the config's rate_limit).")
@click.option("--cache", "cache_url", default=None, help="Answer cache to look each row up in (nothing is sent).")
@click.option("--cache-policy", type=click.Choice(["all", "deterministic"]), default="all", show_default=True)
@planning_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (for scripts and `batch run --plan`).")
@click.option(
    "-o",
    "--output",
    "plan_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the JSON plan here.",
)
@config_option
@clean_errors
def plan(
    input_path: Path,
    deadline: str,
    budget: float | None,
    model: str | None,
    template: str | None,
    system: str | None,
    max_tokens: int | None,
    temperature: float | None,
    concurrency: int,
    rpm: float | None,
    tpm: float | None,
    cache_url: str | None,
    cache_policy: str,
    latency_s: float,
    flex_latency_s: float,
    flex_refusal: float,
    batch_typical: str,
    batch_window: str,
    answer_tokens: int | None,
    as_json: bool,
    plan_path: Path | None,
    config_path: str | None,
) -> None:
    """Plan INPUT.jsonl over the cache, realtime, flex and the Batch API; nothing is sent.

    Prints how many rows each way answers, the predicted cost and finish time (with its range), and
    the saving against sending every row realtime. `batch run --plan` takes the same flags and runs it.
    """
    config = load_checked(config_path)
    capacity = capacity_for(
        config,
        rpm=rpm,
        tpm=tpm,
        concurrency=concurrency,
        latency_s=latency_s,
        flex_latency_s=flex_latency_s,
        flex_refusal=flex_refusal,
        batch_typical=batch_typical,
        batch_window=batch_window,
        answer_tokens=answer_tokens,
    )
    params = {k: v for k, v in (("max_tokens", max_tokens), ("temperature", temperature)) if v is not None}
    spec = JobSpec(model, template, system, params)
    job = plan_file(
        AsyncClient(config), input_path, spec, capacity, parse_duration(deadline), budget, cache_url, cache_policy
    )
    document = job.to_json()
    if plan_path is not None:
        plan_path.write_text(json.dumps(document) + "\n")
    if as_json:
        click.echo(json.dumps(document))
    else:
        for line in job.lines():
            click.echo(line)
