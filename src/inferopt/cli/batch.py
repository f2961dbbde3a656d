"""``inferopt batch``: large offline jobs. ``run`` answers a JSONL file concurrently and resumably."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from inferopt.cli.batch_plan import capacity_for, planning_options
from inferopt.cli.batch_plan_run import plan_engine
from inferopt.cli.common import clean_errors, config_option, load_checked, request_options
from inferopt.client import AsyncClient
from inferopt.config import Config
from inferopt.parallel.jobs.batch_mode import parse_duration
from inferopt.parallel.jobs.embed_file import EmbedOptions, embed_command
from inferopt.parallel.jobs.journal import journal_path
from inferopt.parallel.jobs.ray_engine import RayEngine
from inferopt.parallel.jobs.rows import JobSpec
from inferopt.parallel.jobs.runner import BatchRunner, JobPaths, RemoteEngine
from inferopt.parallel.jobs.summary import JobStats
from inferopt.parallel.planner.execute import PlanEngine


@click.group()
def batch() -> None:
    """Large offline jobs: thousands to millions of prompts."""


def with_limits(
    config: Config,
    rpm: float | None,
    tpm: float | None,
    max_attempts: int,
    limits_redis: str | None = None,
    cache_url: str | None = None,
    cache_policy: str = "all",
) -> Config:
    """The config's stack with the command line's cache, retry and rate limits added (config entries win).

    Order, outermost first: cache (a hit skips everything below), retry, rate limit, then the file's stack.
    Cache policy ``all`` answers a job's repeated requests once at any temperature (the temperature
    and every other parameter stay in the key); ``deterministic`` caches only temperature 0 or a seed.
    """
    if rpm or tpm:
        limit: dict[str, Any] = {"rpm": rpm, "tpm": tpm}
        if limits_redis:
            limit["redis"] = limits_redis
        config = config.with_layer("rate_limit", limit)
    config = config.with_layer("retry", {"max_attempts": max_attempts})
    if cache_url:
        config = config.with_layer("cache", {"url": cache_url, "cache_nondeterministic": cache_policy == "all"})
    return config


def _batch_api_engine(
    client: AsyncClient,
    spec: JobSpec,
    input_path: Path,
    output_path: Path,
    mode: str,
    deadline: str | None,
    poll_s: float,
    console: Console,
) -> RemoteEngine | None:
    """The Batch API engine when --mode (and --deadline) choose it, else None; says why either way."""
    from inferopt.cli.batch_api import batch_api_for
    from inferopt.parallel.batch_api import JobStore
    from inferopt.parallel.jobs.batch_mode import BatchAPIEngine, choose_mode
    from inferopt.parallel.jobs.rows import Row, read_rows

    route = client.resolve(spec.model)
    requests = (r.request for r in read_rows(input_path, spec, route.requested) if isinstance(r, Row))
    choice = choose_mode(mode, parse_duration(deadline) if deadline else None, requests, route.model)
    console.print(f"mode        {choice.mode}: {choice.reason}", highlight=False, soft_wrap=True)
    if choice.mode != "batch":
        return None
    api = batch_api_for(client.config, route.provider, route.wire)
    marker = output_path.with_name(output_path.name + ".batchjob")
    return BatchAPIEngine(
        api,
        provider=route.provider,
        model=route.model,
        marker=marker,
        store=JobStore(),
        poll_s=poll_s,
        on_status=lambda line: console.print(line, highlight=False),
    )


def _progress_line(stats: JobStats) -> str:
    wall = stats.wall_s or 1e-9
    tokens = stats.input_tokens + stats.output_tokens
    return (
        f"done {stats.done + stats.skipped} · failed {stats.failed} · retries {stats.retries} · "
        f"{(stats.done + stats.failed) / wall:.1f} req/s · {tokens / wall:.0f} tok/s · ${stats.cost_usd:.4f}"
    )


async def _run(runner: BatchRunner, show_progress: bool, console: Console, total_hint: int) -> JobStats:
    if not show_progress:
        return await runner.run()
    columns = (
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[line]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False, refresh_per_second=8) as progress:
        task = progress.add_task("batch", total=total_hint, line="starting")

        def update(stats: JobStats) -> None:
            progress.update(task, completed=stats.finished, line=_progress_line(stats))

        runner.on_progress = update
        stats = await runner.run()
        update(stats)
        return stats


@batch.command("run")
@click.argument("input_path", metavar="INPUT.jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Results, one JSON line per input line, in input order.",
)
@request_options
@click.option("--rpm", type=float, default=None, help="Requests per minute to stay under.")
@click.option("--tpm", type=float, default=None, help="Tokens per minute to stay under (prompt + max_tokens).")
@click.option("--max-attempts", type=int, default=5, show_default=True, help="Attempts per item for retryable errors.")
@click.option(
    "--cache",
    "cache_url",
    default=None,
    help="Answer cache: memory://, sqlite:///path/cache.db or redis://host:port/db.",
)
@click.option(
    "--cache-policy",
    type=click.Choice(["all", "deterministic"]),
    default="all",
    show_default=True,
    help="all: a repeated request is answered once at any temperature (temperature stays in the key); "
    "deterministic: cache only requests with temperature 0 or a seed.",
)
@click.option(
    "--mode",
    type=click.Choice(["realtime", "batch", "auto"]),
    default="realtime",
    show_default=True,
    help="batch: the provider's Batch API at batch prices; auto: the Batch API when --deadline allows it.",
)
@click.option(
    "--deadline",
    default=None,
    help="When the job must be done by, e.g. 45m, 2h or 2d: --mode auto picks the Batch API when it allows; "
    "a real-time run starts no new item after it (run again to continue).",
)
@click.option(
    "--plan",
    "use_plan",
    is_flag=True,
    help="Run the plan `batch plan` predicts (needs --deadline): cache, realtime, flex and the Batch API mixed, "
    "re-planned while running.",
)
@click.option("--budget", type=float, default=None, help="USD the job may spend (--plan): work past it is not sent.")
@planning_options
@click.option(
    "--cancel-grace",
    "cancel_grace",
    default="10m",
    show_default=True,
    help="(--plan) How long a cancelled late batch may take to end before its rows are sent live anyway.",
)
@click.option("--poll", "poll_s", type=float, default=10.0, show_default=True, help="Seconds between Batch API checks.")
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: this process's event loop; ray: chunks of rows as Ray tasks (local or a cluster).",
)
@click.option("--ray-address", default=None, help="Ray cluster address (default: start Ray on this machine).")
@click.option("--workers", type=int, default=2, show_default=True, help="Ray tasks in flight (--engine ray).")
@click.option("--chunk-size", type=int, default=500, show_default=True, help="Rows per Ray task (--engine ray).")
@click.option(
    "--limits-redis",
    default=None,
    help="Redis URL holding the --rpm/--tpm buckets, shared by every worker and process.",
)
@click.option(
    "--restart",
    is_flag=True,
    help="Answer every row again, discarding earlier answers in OUTPUT and its journal (they are paid again).",
)
@click.option("--resume", is_flag=True, help="Finish an interrupted run (the default when its journal exists).")
@click.option("--progress/--no-progress", default=None, help="Live progress bar (default: on in a terminal).")
@click.option("--embed", is_flag=True, help='Embed each line\'s "text" (or "input") instead of answering it.')
@click.option("--dimensions", type=int, default=None, help="Vector length for --embed (text-embedding-3 models).")
@click.option("--embed-batch-size", type=int, default=100, show_default=True, help="Inputs per request (--embed).")
@config_option
@clean_errors
def run(
    input_path: Path,
    output_path: Path,
    model: str | None,
    template: str | None,
    system: str | None,
    max_tokens: int | None,
    temperature: float | None,
    concurrency: int,
    rpm: float | None,
    tpm: float | None,
    max_attempts: int,
    cache_url: str | None,
    cache_policy: str,
    mode: str,
    deadline: str | None,
    use_plan: bool,
    budget: float | None,
    latency_s: float,
    flex_latency_s: float,
    flex_refusal: float,
    batch_typical: str,
    batch_window: str,
    answer_tokens: int | None,
    cancel_grace: str,
    poll_s: float,
    engine: str,
    ray_address: str | None,
    workers: int,
    chunk_size: int,
    limits_redis: str | None,
    restart: bool,
    resume: bool,
    progress: bool | None,
    embed: bool,
    dimensions: int | None,
    embed_batch_size: int,
    config_path: str | None,
) -> None:
    """Answer every line of INPUT.jsonl; resumable after a crash, Ctrl-C or kill -9.

    Lines are chat requests ({"messages": [...]}) or data rows ({"id": ..., "text": ...}) filled into
    --template. Malformed lines are listed in OUTPUT.errors.jsonl with their line numbers; the rest run.
    Running the same command again never resends an answered row: it finishes an interrupted job,
    retries failed rows, or says there is nothing to do (docs/row_identity.md).
    """
    console = Console(stderr=True)
    if embed:
        if mode == "auto" or engine != "local":
            raise click.UsageError("--embed runs on the local engine with --mode realtime or --mode batch")
        config = with_limits(load_checked(config_path), rpm, tpm, max_attempts, limits_redis, cache_url)
        options = EmbedOptions(model, dimensions, embed_batch_size, concurrency, mode == "batch", poll_s)
        status = lambda text: console.print(text, highlight=False)  # noqa: E731
        for line in embed_command(config, input_path, output_path, options, status):
            console.print(line, highlight=False)
        return
    journal = journal_path(output_path)
    params = {k: v for k, v in (("max_tokens", max_tokens), ("temperature", temperature)) if v is not None}
    if engine == "ray" and (rpm or tpm) and not limits_redis:
        raise click.UsageError(
            "with --engine ray, --rpm/--tpm need --limits-redis redis://HOST:PORT/DB "
            "so that every worker shares one limit"
        )
    config = with_limits(load_checked(config_path), rpm, tpm, max_attempts, limits_redis, cache_url, cache_policy)
    client = AsyncClient(config)
    remote: RemoteEngine | None = None
    spec = JobSpec(model, template, system, params)
    planned: PlanEngine | None = None
    if use_plan:
        if not deadline or mode != "realtime" or engine != "local":
            raise click.UsageError("--plan needs --deadline, and runs on the local engine without --mode")
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
        remote = planned = plan_engine(
            client,
            spec,
            output_path,
            capacity,
            deadline=deadline,
            budget_usd=budget,
            cache_url=cache_url,
            cache_policy=cache_policy,
            poll_s=poll_s,
            cancel_grace_s=parse_duration(cancel_grace),
            restart=restart,
            say=lambda line: console.print(line, highlight=False, soft_wrap=True),
        )
    elif mode != "realtime" or deadline:
        remote = _batch_api_engine(client, spec, input_path, output_path, mode, deadline, poll_s, console)
    # A real-time job (local or Ray) stops starting items at its deadline; a Batch API job used the
    # deadline to choose its mode, and the provider's window bounds it.
    real_time_deadline = parse_duration(deadline) if deadline and remote is None else None
    if remote is None and engine == "ray":
        remote = RayEngine(config, address=ray_address, workers=workers, chunk_size=chunk_size, concurrency=concurrency)
    runner = BatchRunner(
        client,
        JobPaths(input_path, output_path),
        spec,
        concurrency=concurrency,
        engine=remote,
        deadline_s=real_time_deadline,
        restart=restart,
    )
    journal_existed = journal.exists() and not restart
    plan = runner.prepare()  # a changed job stops here, before any request
    if planned is not None:
        planned.budget.spent_usd = runner.stats.earlier_cost_usd  # the budget is the job's, over every run
        planned.earlier = plan.answered.values()  # a row repeating an answered one is answered from it
    if runner.journal.repaired:
        console.print(
            f"journal     repaired: cut a torn last line ({runner.journal.repaired} bytes of a write cut short) "
            f"from {journal}; that row runs again",
            highlight=False,
        )
    if runner.up_to_date:
        s = runner.stats
        console.print(
            f"nothing to do: {output_path} already answers all {s.total} rows ({s.skipped} answered, "
            f"{s.invalid} invalid input lines; ${s.earlier_cost_usd:.6f} paid earlier); no request sent",
            highlight=False,
            soft_wrap=True,
        )
        return
    if journal_existed or runner.stats.skipped:
        console.print(
            f"resuming: {runner.stats.skipped} rows already answered are kept and not sent again; {plan.to_run} to run",
            highlight=False,
        )
    elif resume:
        console.print(f"nothing to resume ({journal} does not exist); starting the job")
    show = console.is_terminal if progress is None else progress

    async def main() -> JobStats:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        loop.add_signal_handler(signal.SIGTERM, task.cancel)  # journal stays consistent: resume later
        try:
            return await _run(runner, show, console, runner.stats.total)
        finally:
            await client.aclose()

    try:
        stats = asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print(
            f"interrupted: {runner.stats.done} answers recorded in {journal}; run the same command "
            "again to finish the job"
        )
        raise SystemExit(130) from None
    if isinstance(remote, RayEngine):
        console.print(f"engine      ray: {remote.tasks} tasks, at most {workers} at a time", highlight=False)
    for line in stats.lines() + (planned.tally.lines() if planned is not None else []):
        console.print(line, highlight=False, soft_wrap=True)
    if stats.finished == stats.total:
        console.print(f"wrote {output_path}" + (f"; invalid lines in {runner.paths.errors}" if stats.invalid else ""))
    if stats.failed:
        console.print(f"{stats.failed} items failed; run the same command again to retry them")


def _add_batch_api_commands() -> None:
    from inferopt.cli.batch_api import add_batch_api_commands

    add_batch_api_commands(batch)


_add_batch_api_commands()


def _add_plan_command() -> None:
    from inferopt.cli.batch_plan import plan

    batch.add_command(plan)


_add_plan_command()
