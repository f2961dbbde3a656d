"""``inferopt batch plan``: read a job, probe the cache, and plan it (nothing is sent)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from inferopt.client import AsyncClient
from inferopt.parallel.jobs.rows import JobSpec, Row, read_rows
from inferopt.parallel.planner.allocate import Capacity, allocate_table
from inferopt.parallel.planner.model import PlannedJob
from inferopt.parallel.planner.predict import Estimator, Rates
from inferopt.parallel.planner.probe import CacheProbe
from inferopt.parallel.planner.scan import scan_rows


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
    """The plan of the job ``input_path`` holds: malformed lines are left out, as ``batch run`` does.

    The rows are read one at a time (``scan.py``), so a million-row input is planned in flat memory.
    """
    route = client.resolve(spec.model)
    rows = (r for r in read_rows(input_path, spec, route.requested) if isinstance(r, Row))
    rates = Rates.for_model(route.model, client.catalog)
    estimator = Estimator(route.model, answer_tokens=capacity.answer_tokens, prompt_cache=rates.prompt_cache)
    probe = CacheProbe(cache_url, route.model, cache_policy) if cache_url else None
    scan = asyncio.run(scan_rows(rows, estimator, probe))  # repeats and --cache hits are free
    scan.repeats.close()
    return allocate_table(scan.table, rates, capacity, deadline_s, budget_usd)
