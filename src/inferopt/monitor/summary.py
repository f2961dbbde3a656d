"""Numbers from records: latency and TTFT percentiles, throughput, cost, cache savings, errors.

Percentiles use linear interpolation between order statistics (numpy's default, "type 7"), so
p50 of [1, 2, 3, 4] is 2.5. Latency and TTFT percentiles cover successful requests only: a failure
that returns in 1 ms would otherwise make the service look faster the more it fails.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from inferopt.errors import ConfigError
from inferopt.monitor.records import RequestRecord

GROUPINGS: dict[str, Callable[[RequestRecord], str]] = {
    "model": lambda r: r.model_served or r.model_requested,
    "key": lambda r: r.key_id or r.tenant or "(none)",
    "route": lambda r: r.route or "(none)",
    "tenant": lambda r: r.tenant or "(none)",
    "provider": lambda r: r.provider or "(none)",
}


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(slots=True)
class Summary:
    """What a report shows for a set of records."""

    requests: int
    errors: int
    error_rate: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    ttft_p50_s: float
    ttft_p95_s: float
    ttft_p99_s: float
    duration_s: float
    throughput_rps: float
    total_cost_usd: float
    avg_cost_usd: float
    cost_per_1k_usd: float
    unpriced: int
    cache_hits: int
    cache_hit_rate: float
    saved_usd: float
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    retries: int
    per_model: dict[str, int] = field(default_factory=dict)
    error_classes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def summarize(records: Sequence[RequestRecord]) -> Summary:
    """One :class:`Summary` over ``records``."""
    ok = [r for r in records if r.ok]
    latencies = [r.latency_s for r in ok if r.latency_s is not None]
    ttfts = [r.ttft_s for r in ok if r.ttft_s is not None]
    n = len(records)
    errors = n - len(ok)
    if records:
        start = min(r.timestamp for r in records)
        end = max(r.timestamp + (r.latency_s or 0.0) for r in records)
        duration = max(end - start, 0.0)
    else:
        duration = 0.0
    priced = [r.cost_usd for r in records if r.cost_usd is not None]
    total_cost = sum(priced)
    hits = sum(1 for r in records if r.cache_hit)
    # Hit rate counts only requests a cache could have answered (not bypassed, not uncached).
    cached_path = sum(1 for r in records if r.cache_eligible)
    return Summary(
        requests=n,
        errors=errors,
        error_rate=errors / n if n else math.nan,
        latency_p50_s=percentile(latencies, 50),
        latency_p95_s=percentile(latencies, 95),
        latency_p99_s=percentile(latencies, 99),
        ttft_p50_s=percentile(ttfts, 50),
        ttft_p95_s=percentile(ttfts, 95),
        ttft_p99_s=percentile(ttfts, 99),
        duration_s=duration,
        throughput_rps=n / duration if duration > 0 else math.nan,
        total_cost_usd=total_cost,
        avg_cost_usd=total_cost / len(priced) if priced else math.nan,
        cost_per_1k_usd=1000 * total_cost / len(priced) if priced else math.nan,
        unpriced=n - len(priced),
        cache_hits=hits,
        cache_hit_rate=hits / cached_path if cached_path else math.nan,
        saved_usd=sum(r.saved_usd for r in records),
        input_tokens=sum(r.input_tokens for r in records),
        output_tokens=sum(r.output_tokens for r in records),
        cached_tokens=sum(r.cached_tokens for r in records),
        retries=sum(r.retries for r in records),
        per_model=dict(Counter(GROUPINGS["model"](r) for r in records).most_common()),
        error_classes=dict(Counter(r.error for r in records if r.error).most_common()),
    )


def summarize_by(records: Sequence[RequestRecord], by: str) -> dict[str, Summary]:
    """A summary per group (``model``, ``key``, ``route``, ``tenant`` or ``provider``)."""
    try:
        group_of = GROUPINGS[by]
    except KeyError:
        raise ConfigError(f"cannot group by {by!r}; choose one of {', '.join(GROUPINGS)}") from None
    groups: dict[str, list[RequestRecord]] = {}
    for record in records:
        groups.setdefault(group_of(record), []).append(record)
    return {name: summarize(group) for name, group in sorted(groups.items())}
