"""Regression detection: is the current run worse than a baseline, beyond noise?

Each metric's change (current minus baseline) gets a bootstrap confidence interval: both sets of
records are resampled with replacement many times and the metric recomputed, which is valid for
percentiles where t-tests are not (Efron & Tibshirani, ch. 13). A metric *regresses* when the whole
interval lies on the bad side of zero **and** the observed change is larger than a practical
threshold (by default 5% for latency and cost, 1 percentage point for error and hit rates), so a
tiny but "significant" drift over millions of records does not fail a CI gate.

To bound run time, each side is resampled from at most ``max_records`` records (a uniform random
subsample when there are more), which only widens the intervals: a conservative choice.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from inferopt.monitor.records import RequestRecord
from inferopt.monitor.summary import percentile

Values = Callable[[Sequence[RequestRecord]], list[float]]
Reduce = Callable[[Sequence[float]], float]


def _latencies(records: Sequence[RequestRecord]) -> list[float]:
    return [r.latency_s for r in records if r.ok and r.latency_s is not None]


def _costs(records: Sequence[RequestRecord]) -> list[float]:
    return [r.cost_usd for r in records if r.cost_usd is not None]


def _errors(records: Sequence[RequestRecord]) -> list[float]:
    return [1.0 if r.error else 0.0 for r in records]


def _hits(records: Sequence[RequestRecord]) -> list[float]:
    # Only requests that went through a cache count towards the hit rate.
    return [1.0 if r.cache_hit else 0.0 for r in records if r.cache_eligible]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _pct(q: float) -> Reduce:
    return lambda values: percentile(values, q)


@dataclass(frozen=True, slots=True)
class Metric:
    """Per-record values, how they reduce to one number, which direction is bad, and the smallest
    change worth failing a build for (a fraction of the baseline when ``relative``, else absolute)."""

    name: str
    values: Values
    reduce: Reduce
    higher_is_worse: bool
    min_change: float
    relative: bool


METRICS: tuple[Metric, ...] = (
    Metric("latency_p50_s", _latencies, _pct(50), True, 0.05, True),
    Metric("latency_p95_s", _latencies, _pct(95), True, 0.05, True),
    Metric("cost_per_request_usd", _costs, _mean, True, 0.05, True),
    Metric("error_rate", _errors, _mean, True, 0.01, False),
    Metric("cache_hit_rate", _hits, _mean, False, 0.01, False),
)


@dataclass(frozen=True, slots=True)
class Comparison:
    metric: str
    baseline: float
    current: float
    change: float
    ci_low: float
    ci_high: float
    regressed: bool
    improved: bool

    @property
    def verdict(self) -> str:
        if math.isnan(self.change):
            return "no data"
        return "REGRESSION" if self.regressed else ("improved" if self.improved else "no significant change")


def _bootstrap_diffs(
    before: Sequence[float], after: Sequence[float], reduce: Reduce, resamples: int, rng: random.Random
) -> list[float]:
    if not before or not after:
        return []
    return [
        reduce(rng.choices(after, k=len(after))) - reduce(rng.choices(before, k=len(before))) for _ in range(resamples)
    ]


def compare(
    baseline: Sequence[RequestRecord],
    current: Sequence[RequestRecord],
    *,
    metrics: Sequence[Metric] = METRICS,
    resamples: int = 500,
    confidence: float = 0.95,
    max_records: int = 2000,
    rng: random.Random | None = None,
) -> list[Comparison]:
    """Compare ``current`` with ``baseline`` on each metric (see the module docstring)."""
    rng = rng or random.Random(0)
    tail = (1 - confidence) / 2 * 100
    results = []
    for metric in metrics:
        before_values, after_values = metric.values(baseline), metric.values(current)
        before, after = metric.reduce(before_values), metric.reduce(after_values)
        change = after - before
        diffs = _bootstrap_diffs(
            _subsample(before_values, max_records, rng),
            _subsample(after_values, max_records, rng),
            metric.reduce,
            resamples,
            rng,
        )
        low, high = percentile(diffs, tail), percentile(diffs, 100 - tail)
        threshold = metric.min_change * abs(before) if metric.relative else metric.min_change
        worse = change if metric.higher_is_worse else -change
        bad_side = low > 0 if metric.higher_is_worse else high < 0
        good_side = high < 0 if metric.higher_is_worse else low > 0
        regressed = bool(bad_side and worse > threshold)
        improved = bool(good_side and -worse > threshold)
        results.append(Comparison(metric.name, before, after, change, low, high, regressed, improved))
    return results


def _subsample(values: list[float], limit: int, rng: random.Random) -> list[float]:
    return rng.sample(values, limit) if len(values) > limit else values
