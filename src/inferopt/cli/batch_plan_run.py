"""``inferopt batch run --plan``: the engine that executes a job's plan, built from the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from inferopt.client import AsyncClient
from inferopt.errors import ConfigError
from inferopt.parallel.batch_api import BatchAPI, JobStore
from inferopt.parallel.jobs.batch_mode import parse_duration
from inferopt.parallel.jobs.rows import JobSpec
from inferopt.parallel.planner.allocate import Capacity
from inferopt.parallel.planner.execute import PlanEngine
from inferopt.parallel.planner.state import PlanState, plan_state_path


def plan_engine(
    client: AsyncClient,
    spec: JobSpec,
    output_path: Path,
    capacity: Capacity,
    *,
    deadline: str,
    budget_usd: float | None,
    cache_url: str | None,
    cache_policy: str,
    poll_s: float,
    cancel_grace_s: float,
    restart: bool,
    say: Callable[[str], None],
) -> PlanEngine:
    """The engine for ``batch run --plan``; without a Batch API on the provider, the plan uses none."""
    from inferopt.cli.batch_api import batch_api_for

    route = client.resolve(spec.model)
    api: BatchAPI | None = None
    try:
        api = batch_api_for(client.config, route.provider, route.wire)
    except ConfigError as exc:
        say(f"batch API   not used: {exc}")
    path = plan_state_path(output_path)
    if restart:
        path.unlink(missing_ok=True)
    return PlanEngine(
        client,
        model=route.model,
        capacity=capacity,
        deadline_s=parse_duration(deadline),
        state=PlanState.load(path),
        budget_usd=budget_usd,
        batch_api=api,
        provider=route.provider,
        store=JobStore(),
        cache_url=cache_url,
        cache_policy=cache_policy,
        poll_s=poll_s,
        cancel_grace_s=cancel_grace_s,
        on_status=say,
    )
