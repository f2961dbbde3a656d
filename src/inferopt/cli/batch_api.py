"""``inferopt batch submit|status|results|cancel``: jobs on the providers' Batch APIs (half price, async).

``submit`` reads the same input lines as ``batch run`` (chat requests, or ``{"id", "text"}`` rows
with ``--template``/``--system``), starts one or more provider batches and records the job in
``.inferopt/batches/JOB.json``; the other commands take that job id. The lead's ``batch`` group
adds these commands with :func:`add_batch_api_commands`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from inferopt.cli.common import clean_errors, config_option
from inferopt.config import Config, load_config, read_api_key
from inferopt.errors import ConfigError, InferoptError, PricingError, UnknownModelError
from inferopt.parallel.batch_api import (
    ANTHROPIC_LIMITS,
    GEMINI_LIMITS,
    OPENAI_LIMITS,
    AnthropicBatch,
    BatchAPI,
    BatchItemResult,
    BatchJob,
    BatchJobs,
    BatchLimits,
    GeminiBatch,
    JobStatus,
    JobStore,
    OpenAIBatch,
    estimate_batch_savings,
)
from inferopt.parallel.batch_api.faults import crash_point
from inferopt.parallel.batch_api.store import DEFAULT_DIR
from inferopt.parallel.jobs.rows import InputProblem, JobSpec, read_rows
from inferopt.pricing import cost_of
from inferopt.providers.base import Provider
from inferopt.resolve import Resolver
from inferopt.types import ChatRequest, Usage

T = TypeVar("T")

state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DIR,
    show_default=True,
    help="Where job records are kept.",
)


def batch_api_for(config: Config, provider_name: str, wire: str, batch_size: int | None = None) -> BatchAPI:
    """The Batch API client of a configured provider (never the in-process emulator: it would not outlive us)."""
    provider = batch_provider(config, provider_name)
    apis: dict[str, tuple[Callable[[Provider, BatchLimits], BatchAPI], BatchLimits]] = {
        "anthropic": (AnthropicBatch, ANTHROPIC_LIMITS),
        "gemini": (GeminiBatch, GEMINI_LIMITS),
    }
    make, limits = apis.get(wire, (OpenAIBatch, OPENAI_LIMITS))
    if batch_size is not None:
        if batch_size < 1:
            raise InferoptError(f"--batch-size must be at least 1 (got {batch_size})")
        limits = replace(limits, max_requests=min(batch_size, limits.max_requests))
    return make(provider, limits)


def batch_provider(config: Config, provider_name: str) -> Provider:
    """The connection to a configured provider's Batch API (refusing the in-process emulator)."""
    settings = config.providers.get(provider_name)
    if settings is None:
        raise ConfigError(
            f"provider {provider_name!r} is not in the config (declared: {sorted(config.providers)}); use the config "
            "the job was submitted with",
            file=config.source,
        )
    if settings.kind == "emulator":
        raise ConfigError(
            "Batch API jobs outlive the command that submits them, and the built-in emulator does not: run "
            "`inferopt emulate` and declare it as a provider (kind: openai, base_url: http://127.0.0.1:8100/v1; "
            "or kind: anthropic or gemini, base_url: http://127.0.0.1:8100), or configure a real provider",
            file=config.source,
            key=f"providers.{provider_name}.kind",
        )
    base_url = settings.resolved_base_url
    if base_url is None:
        raise ConfigError(f"provider {provider_name!r} needs a base_url", key=f"providers.{provider_name}.base_url")
    return Provider(
        name=provider_name,
        base_url=base_url,
        api_key=read_api_key(provider_name, settings, config.source),
        timeout_s=settings.timeout_s,
        headers=dict(settings.headers),
        proxy=settings.proxy,
    )


def _run(api: BatchAPI, work: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await work()
        finally:
            await api.aclose()

    return asyncio.run(main())


def _read_items(path: Path, spec: JobSpec, model: str) -> list[tuple[str, ChatRequest]]:
    items: list[tuple[str, ChatRequest]] = []
    problems: list[str] = []
    for row in read_rows(path, spec, model):
        if isinstance(row, InputProblem):
            problems.append(f"line {row.line}: {row.reason}")
        elif row.request.model != model:
            problems.append(f"line {row.line}: asks for model {row.request.model!r}; a batch job serves one model")
        else:
            items.append((row.id, row.request))
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise InferoptError(
            f"{path}: {len(problems)} malformed line(s), nothing submitted ({shown}); fix or remove them"
        )
    return items


def _status_lines(job: BatchJob, status: JobStatus) -> list[str]:
    done = status.succeeded + status.failed
    head = (
        f"{job.id}: {status.state} · {done}/{status.total} done ({status.succeeded} succeeded, {status.failed} "
        f"failed) · {job.model} on {job.provider} ({job.wire} Batch API) · {len(job.batches)} provider batch(es)"
    )
    rows = [
        f"  {b.id}: {b.provider_status} · {b.succeeded + b.failed}/{b.total}" + (f" · {b.detail}" if b.detail else "")
        for b in status.batches
    ]
    return [head, *rows]


def _result_line(item: BatchItemResult) -> dict[str, Any]:
    if item.response is None:
        error = item.error
        assert error is not None
        return {
            "custom_id": item.custom_id,
            "ok": False,
            "error": {"kind": error.kind, "status": error.status, "type": error.error_type, "message": error.message},
        }
    r, u = item.response, item.response.usage
    return {
        "custom_id": item.custom_id,
        "ok": True,
        "content": r.content,
        "model": r.model,
        "finish_reason": r.finish_reason,
        "usage": {
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cache_read_tokens": u.cache_read_tokens,
        },
        "cost_usd": r.cost_usd,
        "emulated": r.emulated,
    }


def _summary(job: BatchJob, results: list[BatchItemResult], output: Path) -> list[str]:
    answered = [r.response for r in results if r.response is not None]
    usage = sum((a.usage for a in answered), Usage())
    batch_cost = sum(a.cost_usd or 0.0 for a in answered)
    failures = [r for r in results if r.error is not None]
    lines = [f"{len(results)} results -> {output}: {len(answered)} succeeded, {len(failures)} without an answer"]
    by_kind: dict[str, list[str]] = {}
    for r in failures:
        assert r.error is not None
        by_kind.setdefault(r.error.kind, []).append(r.custom_id)
    for kind, ids in sorted(by_kind.items()):
        lines.append(f"  {kind}: {len(ids)} ({', '.join(ids[:10])}{', ...' if len(ids) > 10 else ''})")
    try:
        live = cost_of(usage, job.model)
        saving = f" (realtime would be ${live:.6f}: saved ${live - batch_cost:.6f})"
    except (UnknownModelError, PricingError):
        saving = ""
    lines.append(
        f"tokens {usage.input_tokens} in / {usage.output_tokens} out · ${batch_cost:.6f} at batch prices{saving}"
    )
    return lines


@click.command("submit")
@click.argument("input_path", metavar="INPUT.jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", "-m", default=None, help="Alias, provider/model, or model id (default: the config's).")
@click.option("--provider", default=None, help="Provider from the config to send the job to (default: resolved).")
@click.option("--template", default=None, help='Prompt for {"id", "text"} rows, e.g. "Classify sentiment: {text}".')
@click.option("--system", default=None, help="System prompt added to every request.")
@click.option("--max-tokens", type=int, default=None)
@click.option("--temperature", type=float, default=None)
@click.option(
    "--batch-size", type=int, default=None, help="At most this many requests per provider batch (default: its limit)."
)
@click.option(
    "--again",
    is_flag=True,
    help="A new job even if these requests were submitted before (they are paid again); default: that job.",
)
@config_option
@state_dir_option
@clean_errors
def submit(
    input_path: Path,
    model: str | None,
    provider: str | None,
    template: str | None,
    system: str | None,
    max_tokens: int | None,
    temperature: float | None,
    batch_size: int | None,
    again: bool,
    config_path: str | None,
    state_dir: Path,
) -> None:
    """Start a Batch API job for INPUT.jsonl; prints the job id.

    Submitting the same input again (same model, provider and --batch-size) is the same job: a
    submit that was killed is finished, adopting the provider batches it created; a finished one
    is not sent again.
    """
    config = load_config(config_path)
    resolver = Resolver(config)
    name = model or config.default_model
    route = resolver.resolve(f"{provider}/{name}" if provider and name else name)
    params = {k: v for k, v in (("max_tokens", max_tokens), ("temperature", temperature)) if v is not None}
    items = _read_items(input_path, JobSpec(route.requested, template, system, params), route.requested)
    items = [(cid, request.with_model(route.model)) for cid, request in items]
    api = batch_api_for(config, route.provider, route.wire, batch_size)
    store = JobStore(state_dir)
    known = set(store.job_ids())
    job = _run(api, lambda: BatchJobs(api, provider_name=route.provider, store=store).submit(items, fresh=again))
    if job.cancelled:
        click.echo(
            f"{job.id}: these requests were submitted before and that job was cancelled; nothing sent (use --again "
            "for a new job)",
            err=True,
        )
        click.echo(job.id)
        return
    if job.id in known:
        click.echo(f"{job.id}: these requests were submitted before; resumed that job (nothing paid twice)", err=True)
    try:
        live, batched = estimate_batch_savings([r for _, r in items], route.model)
        estimate = f"; estimated ${batched:.4f} at batch prices vs ${live:.4f} realtime"
    except (UnknownModelError, PricingError):
        estimate = ""
    click.echo(
        f"{job.id}: {len(items)} requests in {len(job.batches)} {route.wire} batch(es) for {route.model} on "
        f"{route.provider}{estimate}",
        err=True,
    )
    click.echo(job.id)


def _load(job_id: str, config_path: str | None, state_dir: Path) -> tuple[BatchJob, BatchAPI, BatchJobs]:
    store = JobStore(state_dir)
    job = store.load(job_id)
    api = batch_api_for(load_config(config_path), job.provider, job.wire)
    return job, api, BatchJobs(api, provider_name=job.provider, store=store)


@click.command("status")
@click.argument("job_id", metavar="JOB")
@click.option("--wait", is_flag=True, help="Poll until the job has finished.")
@click.option("--interval", type=float, default=30.0, show_default=True, help="Seconds between polls with --wait.")
@config_option
@state_dir_option
@clean_errors
def status(job_id: str, wait: bool, interval: float, config_path: str | None, state_dir: Path) -> None:
    """Show the progress of JOB (summed over its provider batches)."""
    job, api, jobs = _load(job_id, config_path, state_dir)

    async def poll() -> JobStatus:
        current = await jobs.status(job)
        while wait and not current.finished:
            click.echo(_status_lines(job, current)[0], err=True)
            await asyncio.sleep(interval)
            current = await jobs.status(job)
        return current

    for line in _status_lines(job, _run(api, poll)):
        click.echo(line)


@click.command("results")
@click.argument("job_id", metavar="JOB")
@click.option("-o", "--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@config_option
@state_dir_option
@clean_errors
def results(job_id: str, output_path: Path, config_path: str | None, state_dir: Path) -> None:
    """Write JOB's results to OUTPUT (one JSON line per input line, in input order)."""
    job, api, jobs = _load(job_id, config_path, state_dir)
    items = _run(api, lambda: jobs.results(job))
    partial = output_path.with_name(output_path.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        for item in items:
            out.write(json.dumps(_result_line(item), ensure_ascii=False) + "\n")
            crash_point("during-fetch")  # a kill here leaves only the .partial file, never half an OUTPUT
    partial.replace(output_path)
    for line in _summary(job, items, output_path):
        click.echo(line, err=True)


@click.command("cancel")
@click.argument("job_id", metavar="JOB")
@config_option
@state_dir_option
@clean_errors
def cancel(job_id: str, config_path: str | None, state_dir: Path) -> None:
    """Cancel JOB's provider batches; answers finished before the cancel stay available via `results`.

    The cancel is recorded first: a submit of JOB that was interrupted is never finished after it.
    """
    job, api, jobs = _load(job_id, config_path, state_dir)
    for line in _status_lines(job, _run(api, lambda: jobs.cancel(job))):
        click.echo(line)


def add_batch_api_commands(group: click.Group) -> None:
    """Add ``submit``, ``status``, ``results`` and ``cancel`` to the ``batch`` group."""
    for command in (submit, status, results, cancel):
        group.add_command(command)
