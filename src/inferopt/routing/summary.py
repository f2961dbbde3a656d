"""What an evaluation reports, as data: curves, metrics, cost to reach each reference, RouterArena scores.

:func:`evaluation_summary` is what ``inferopt route eval --json`` prints and what its table shows.

- **Cost to reach a reference's accuracy**: the lowest cost per query at which a router's curve
  reaches that accuracy, read on the curve's non-decreasing convex hull (a random mix of two
  measured settings achieves every point between them); ``measured`` is the cheapest single
  measured setting that does, without mixing. ``None`` when the curve never gets there.
- **RouterArena score** (Lu et al. 2025, arXiv 2510.00202): accuracy ``A`` and cost per 1,000
  queries ``c`` combine as ``S = (1 + b) A C / (b A + C)`` with ``b = 0.1`` and the cost score
  ``C = (log2 c_max - log2 c) / (log2 c_max - log2 c_min)`` over RouterArena's fixed range
  ``c_min = $0.0044``, ``c_max = $200`` per 1,000 queries (clamped to [0, 1]). Each entry is
  scored at its operating point (the best within the budget), then ranked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from inferopt.routing.data import Outcomes
from inferopt.routing.evaluate import OperatingPoint, RouterReport, weak_and_strong
from inferopt.routing.metrics import Point, upper_hull

REFERENCES = ("oracle", "oracle curve", "random")
ARENA_BETA = 0.1
ARENA_COST_RANGE = (0.0044, 200.0)  # USD per 1,000 queries, RouterArena's normalisation


def arena_score(accuracy: float, cost_per_query: float) -> float:
    """RouterArena's combined accuracy-cost score in [0, 1] (see the module docstring)."""
    low, high = ARENA_COST_RANGE
    per_1k = max(cost_per_query * 1000, 1e-12)
    cost_score = min(1.0, max(0.0, (math.log2(high) - math.log2(per_1k)) / (math.log2(high) - math.log2(low))))
    if accuracy <= 0 or cost_score <= 0:
        return 0.0
    return (1 + ARENA_BETA) * accuracy * cost_score / (ARENA_BETA * accuracy + cost_score)


def cost_to_reach(points: Sequence[OperatingPoint], accuracy: float) -> float | None:
    """Lowest cost per query on the hull of ``points`` with at least ``accuracy`` (``None``: never)."""
    hull = upper_hull([Point(p.cost_per_query, p.accuracy) for p in points])
    for i, p in enumerate(hull):
        if p.quality >= accuracy - 1e-12:
            if i == 0:
                return p.cost
            a = hull[i - 1]
            return a.cost + (p.cost - a.cost) * (accuracy - a.quality) / (p.quality - a.quality)
    return None


def measured_cost_to_reach(points: Sequence[OperatingPoint], accuracy: float) -> float | None:
    """Cost of the cheapest measured setting with at least ``accuracy`` (no mixing)."""
    return min((p.cost_per_query for p in points if p.accuracy >= accuracy - 1e-12), default=None)


def operating_point(report: RouterReport, budget: float) -> OperatingPoint:
    """A curve's best point within ``budget`` per query (its cheapest when none fits); a single point as is."""
    if len(report.points) == 1:
        return report.points[0]
    return report.best_within(budget) or min(report.points, key=lambda p: p.cost_per_query)


def _point(p: OperatingPoint) -> dict[str, Any]:
    shares = {m: round(s, 6) for m, s in p.call_share.items() if s > 0}
    return {"knob": p.knob, "accuracy": p.accuracy, "cost_per_query": p.cost_per_query, "call_share": shares}


def evaluation_summary(reports: Sequence[RouterReport], data: Outcomes, budget_share: float) -> dict[str, Any]:
    """Every router and reference of an evaluation as JSON-ready data (see the module docstring)."""
    _, strong = weak_and_strong(data)
    strong_name = data.models[strong]
    budget = budget_share * data.mean_cost(strong_name)
    singles = [r for r in reports if r.name in data.models]
    targets = {r.name: r.points[0] for r in singles}
    entries: list[dict[str, Any]] = []
    for report in reports:
        chosen = operating_point(report, budget)
        reach = {}
        for name, ref in targets.items():
            hull_cost = cost_to_reach(report.points, ref.accuracy)
            reach[name] = {
                "accuracy": ref.accuracy,
                "cost_per_query": hull_cost,
                "share_of_its_cost": hull_cost / ref.cost_per_query
                if hull_cost is not None and ref.cost_per_query
                else None,
                "measured_cost_per_query": measured_cost_to_reach(report.points, ref.accuracy),
            }
        kind = "model" if report in singles else "reference" if report.name in REFERENCES else "router"
        entries.append(
            {
                "name": report.name,
                "kind": kind,
                "metrics": dict(report.metrics),
                "operating_point": _point(chosen),
                "routerarena": {
                    "accuracy": chosen.accuracy,
                    "cost_per_1k_queries": chosen.cost_per_query * 1000,
                    "score": arena_score(chosen.accuracy, chosen.cost_per_query),
                },
                "cost_to_reach": reach,
                "points": [_point(p) for p in sorted(report.points, key=lambda p: p.cost_per_query)],
            }
        )
    ranked = sorted(entries, key=lambda e: -e["routerarena"]["score"])
    for rank, entry in enumerate(ranked, 1):
        entry["routerarena"]["rank"] = rank
    return {
        "rows": len(data),
        "models": list(data.models),
        "strongest": strong_name,
        "budget": {"share_of_strongest_cost": budget_share, "cost_per_query": budget},
        "entries": entries,
    }
