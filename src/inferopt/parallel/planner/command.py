"""``inferopt batch plan``: read a job, probe the cache, and plan it (nothing is sent)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from inferopt.client import AsyncClient
from inferopt.parallel.jobs.rows import JobSpec, Row, read_rows
from inferopt.parallel.planner.allocate import Capacity, allocate
from inferopt.parallel.planner.model import PlannedJob
from inferopt.parallel.planner.predict import Rates, estimate_rows
from inferopt.parallel.planner.probe import cached_rows


def plan_file(
    client: AsyncClient,
    input_path: Path,
    spec: JobSpec,
    capacity: Capacity,
    deadline_s: float,
    budget_usd: float | None = None,
    cache_url: str | None = None,
    cache_policy: str = "all",
) -> PlannedJob:
    """The plan of the job ``input_path`` holds: malformed lines are left out, as ``batch run`` does."""
    route = client.resolve(spec.model)
    rows = [(r.index, r.request) for r in read_rows(input_path, spec, route.requested) if isinstance(r, Row)]
    cached = asyncio.run(cached_rows(cache_url, rows, route.model, cache_policy))  # repeats, and --cache hits
    rates = Rates.for_model(route.model, client.catalog)
    return allocate(
        estimate_rows(rows, route.model, answer_tokens=capacity.answer_tokens, prompt_cache=rates.prompt_cache),
        cached,
        rates,
        capacity,
        deadline_s,
        budget_usd,
    )
