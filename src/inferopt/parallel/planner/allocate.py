"""Sort a job's rows over the ways to answer them: cheapest first, within the deadline.

Cached rows cost nothing. A deadline at least the Batch API's window (24 h) sends every other row
through it at half price. A shorter one fills OpenAI's flex tier (half price, slower, sometimes
refused) as far as the RPM/TPM limits and the deadline allow, and sends the rest realtime. Flex
and realtime share one rate limit, so their times add: ``flex/r_flex + realtime/r_realtime``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from inferopt.parallel.planner.model import PlannedJob, Share
from inferopt.parallel.planner.predict import Rates, RowEstimate
from inferopt.parallel.planner.row_table import CACHE, COPY, PENDING, RowTable
from inferopt.types import Usage

# The token buckets sustain 98% of a limit (docs/parallel.md); plan on that, bound it by the full rate.
_SUSTAINED = 0.98


@dataclass(frozen=True, slots=True)
class Capacity:
    """What bounds a job's speed: limits, concurrency, per-request latency, batch turnaround (seconds).

    ``safety`` is the share of the deadline the plan may fill; ``spread`` the relative uncertainty of
    a realtime or flex request's latency.
    """

    rpm: float | None = None
    tpm: float | None = None
    concurrency: int = 64
    latency_s: float = 1.0
    flex_latency_s: float = 3.0
    flex_refusal: float = 0.05
    batch_typical_s: float = 3600.0
    batch_window_s: float = 24 * 3600.0
    safety: float = 0.9
    spread: float = 0.1
    answer_tokens: int | None = None  # expected answer length (default: max_tokens, the most it can be)

    def rows_per_s(self, tokens_per_row: float, latency_s: float) -> float:
        """Rows a second: the lowest of the RPM limit, the TPM limit and concurrency / latency."""
        rates = [self.concurrency / max(latency_s, 1e-6)]
        if self.rpm:
            rates.append(self.rpm * _SUSTAINED / 60.0)
        if self.tpm and tokens_per_row:
            rates.append(self.tpm * _SUSTAINED / 60.0 / tokens_per_row)
        return min(rates)


def allocate(
    rows: Sequence[RowEstimate],
    cached: Collection[int],
    rates: Rates,
    capacity: Capacity,
    deadline_s: float,
    budget_usd: float | None = None,
) -> PlannedJob:
    """The plan for ``rows`` (``cached`` holds the indexes the exact cache answers)."""
    table = RowTable()
    for row in rows:
        table.add(row, CACHE if row.index in cached else PENDING)
    return allocate_table(table, rates, capacity, deadline_s, budget_usd)


def allocate_table(
    table: RowTable, rates: Rates, capacity: Capacity, deadline_s: float, budget_usd: float | None = None
) -> PlannedJob:
    """The plan for a scanned job: its cache hits and copies free, its pending rows by the deadline.

    The flex share is the first ``rows("flex")`` pending rows in input order, the rest realtime.
    """
    n = table.count(PENDING)
    pending, _ = table.usage(PENDING)
    free = table.usage(CACHE)[0] + table.usage(COPY)[0]
    shares = [Share("cache", table.count(CACHE, COPY), 0.0, 0.0, 0.0, 0.0)]
    warnings: list[str] = []
    if n and rates.batch and deadline_s >= capacity.batch_window_s:
        typical = min(capacity.batch_typical_s, capacity.batch_window_s)
        cost = rates.cost(_uncached(pending), "batch")
        shares.append(Share("batch", n, cost, typical, typical / 2, capacity.batch_window_s))
    elif n:
        live = capacity.rows_per_s(pending.total_tokens / n, capacity.latency_s)
        flex = capacity.rows_per_s(pending.total_tokens / n, capacity.flex_latency_s) * (1 - capacity.flex_refusal)
        n_flex = flex_rows(n, live, flex, deadline_s * capacity.safety, capacity.flex_latency_s) if rates.flex else 0
        on_flex, on_live = table.usage(PENDING, first=n_flex)
        finish = n_flex / flex + (n - n_flex) / live
        low, high = finish * _SUSTAINED * (1 - capacity.spread), finish * (1 + capacity.spread)
        if n_flex:  # a refused flex request is answered realtime, at the standard price
            refused = capacity.flex_refusal
            cost = rates.cost(on_flex, "flex") * (1 - refused) + rates.cost(on_flex, "realtime") * refused
            shares.append(Share("flex", n_flex, cost, finish, low, high))
        if n - n_flex:
            shares.append(Share("realtime", n - n_flex, rates.cost(on_live, "realtime"), finish, low, high))
        if finish > deadline_s:
            warnings.append(
                f"cannot finish by the deadline: {n} rows need about {finish / 3600:.2f} h at "
                f"{live * 60:.0f} rows/min; raise --rpm/--tpm/--concurrency or allow a later --deadline"
            )
    everything = pending + free
    plan = PlannedJob(
        rates.model,
        n + table.count(CACHE, COPY),
        deadline_s,
        budget_usd,
        tuple(shares),
        realtime_only_usd=rates.cost(everything, "realtime"),
        batch_only_usd=rates.cost(_uncached(everything), "batch") if rates.batch else None,
        warnings=tuple(warnings),
    )
    if budget_usd is not None and plan.cost_usd > budget_usd:
        over = f"predicted ${plan.cost_usd:.4f} exceeds --budget ${budget_usd:g}"
        fix = "allow a later --deadline (more rows at half price) or raise --budget"
        return replace(plan, warnings=(*plan.warnings, f"{over}: {fix}"))
    return plan


def _uncached(usage: Usage) -> Usage:
    """Batch lines read no prompt cache (``RowEstimate.usage_on``)."""
    return Usage(usage.input_tokens, usage.output_tokens)


def flex_rows(n: int, live: float, flex: float, time_s: float, flex_latency_s: float = 0.0) -> int:
    """The most of ``n`` rows flex can take so that ``flex_rows/flex + rest/live`` fits in ``time_s``
    (none when a single flex request, ``flex_latency_s``, would not)."""
    if time_s < flex_latency_s:
        return 0
    if n / flex <= time_s:
        return n
    if flex >= live:
        return n  # flex is no slower here: it is the cheapest and the fastest
    if n / live >= time_s:
        return 0  # not even all-realtime fits: keep the fastest way
    return max(0, min(n, math.floor((time_s - n / live) / (1 / flex - 1 / live))))
