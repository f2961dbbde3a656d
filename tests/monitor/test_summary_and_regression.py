"""Summaries and regression detection on records with known properties."""

from __future__ import annotations

import math
import random

import pytest

from inferopt.monitor import RequestRecord, compare, percentile, summarize, summarize_by


def make(
    n: int,
    *,
    latency: float,
    cost: float = 0.001,
    error_every: int = 0,
    hit_every: int = 0,
    seed: int = 0,
    model: str = "m",
    start: float = 0.0,
) -> list[RequestRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        error = "ServerError" if error_every and i % error_every == 0 else ""
        hit = bool(hit_every) and i % hit_every == 0
        records.append(
            RequestRecord(
                request_id=f"{seed}-{i}",
                timestamp=start + i * 0.1,
                model_requested=model,
                model_served=model,
                latency_s=latency * rng.lognormvariate(0, 0.3),
                ttft_s=latency / 4,
                cost_usd=0.0 if hit else cost,
                saved_usd=cost if hit else 0.0,
                cache="exact" if hit else "miss",
                error=error,
                key_id=f"k{i % 2}",
                route="cheap" if i % 3 else "strong",
            )
        )
    return records


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)
    assert math.isnan(percentile([], 50))


def test_summary_counts_costs_hits_and_errors() -> None:
    records = make(100, latency=1.0, cost=0.002, error_every=10, hit_every=4)
    s = summarize(records)
    assert (s.requests, s.errors, s.error_rate) == (100, 10, 0.1)
    assert s.cache_hits == 25 and s.cache_hit_rate == 0.25
    assert s.saved_usd == pytest.approx(25 * 0.002) and s.total_cost_usd == pytest.approx(75 * 0.002)
    assert s.cost_per_1k_usd == pytest.approx(1000 * 75 * 0.002 / 100)
    assert s.latency_p50_s < s.latency_p95_s < s.latency_p99_s
    end = max(r.timestamp + (r.latency_s or 0) for r in records)  # the last answer, not the last start
    assert s.throughput_rps == pytest.approx(100 / end, rel=1e-6)
    assert s.per_model == {"m": 100} and s.error_classes == {"ServerError": 10}


def test_grouping_by_key_and_route() -> None:
    records = make(30, latency=1.0)
    assert {k: s.requests for k, s in summarize_by(records, "key").items()} == {"k0": 15, "k1": 15}
    assert {k: s.requests for k, s in summarize_by(records, "route").items()} == {"cheap": 20, "strong": 10}
    with pytest.raises(Exception, match="cannot group by 'colour'"):
        summarize_by(records, "colour")


def test_same_distribution_is_not_a_regression() -> None:
    results = compare(make(400, latency=1.0, seed=1), make(400, latency=1.0, seed=2), resamples=300)
    assert not any(c.regressed for c in results), [(c.metric, c.ci_low, c.ci_high) for c in results]


def test_slower_costlier_and_failing_runs_are_flagged() -> None:
    baseline = make(400, latency=1.0, cost=0.001, hit_every=2, seed=1)
    current = make(400, latency=1.4, cost=0.0015, error_every=10, hit_every=5, seed=2)
    results = {c.metric: c for c in compare(baseline, current, resamples=300)}
    for metric in ("latency_p50_s", "latency_p95_s", "cost_per_request_usd", "error_rate", "cache_hit_rate"):
        assert results[metric].regressed, metric
    assert results["latency_p50_s"].ci_low > 0
    assert results["cache_hit_rate"].ci_high < 0


def test_faster_run_is_an_improvement_not_a_regression() -> None:
    results = {c.metric: c for c in compare(make(300, latency=1.0, seed=1), make(300, latency=0.6, seed=2))}
    assert results["latency_p95_s"].improved and not results["latency_p95_s"].regressed
