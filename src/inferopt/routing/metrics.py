"""Routing metrics as the literature defines them.

Two-model settings (RouteLLM, Ong et al. 2024, arXiv 2406.18665), with a weak and a strong model:

- **PGR** (performance gap recovered) of a router: ``(q_router - q_weak) / (q_strong - q_weak)``.
- **APGR**: the area under PGR as a function of the share of calls sent to the strong model, from
  0% to 100% (trapezoids over the router's curve). A router that sends a random share ``s`` of
  calls to the strong model has PGR = s in expectation, hence APGR = 0.5: that is the check.
- **CPT(x%)**: the smallest share of strong-model calls at which PGR reaches x%.
- **APGR by cost** (ours, for any number of models): the mean PGR of the router's hull over cost
  from the weak (cheapest) model's cost to the strong (most accurate) model's, the curve anchored
  at both models' points; with two models and costs proportional to calls it is APGR.

Many models (RouterBench, Hu et al. 2024, arXiv 2403.12031):

- **AIQ**: the area under a router's *non-decreasing convex hull* in the cost-quality plane,
  divided by the cost range. Mixing two operating points at random achieves every point on the
  segment between them (hence convex), and paying more never has to lower quality (hence
  non-decreasing).

Curves are lists of :class:`Point` (cost per query, quality, share of strong calls).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from inferopt.errors import InvalidArgumentError


@dataclass(frozen=True, slots=True)
class Point:
    """One operating point of a router: mean cost per query, mean quality, share of strong-model calls."""

    cost: float
    quality: float
    strong_share: float = 0.0


def pgr(quality: float, weak: float, strong: float) -> float:
    """Performance gap recovered: 0 at the weak model's quality, 1 at the strong model's."""
    if strong == weak:
        raise InvalidArgumentError("PGR is undefined when the strong and weak models have the same quality")
    return (quality - weak) / (strong - weak)


def _share_curve(points: Sequence[Point], weak: float, strong: float) -> list[tuple[float, float]]:
    """(strong share, PGR) sorted by share, anchored at (0, 0) and (1, 1) as the router's extremes."""
    curve = sorted((p.strong_share, pgr(p.quality, weak, strong)) for p in points)
    if not curve or curve[0][0] > 0.0:
        curve.insert(0, (0.0, 0.0))
    if curve[-1][0] < 1.0:
        curve.append((1.0, 1.0))
    return curve


def apgr(points: Sequence[Point], weak: float, strong: float) -> float:
    """Average PGR over the share of strong-model calls in [0, 1] (trapezoid rule)."""
    curve = _share_curve(points, weak, strong)
    return sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in itertools.pairwise(curve))


def cpt(points: Sequence[Point], weak: float, strong: float, target: float) -> float:
    """Call-performance threshold: the smallest strong-call share reaching PGR >= ``target``.

    Between two measured points the share is interpolated linearly (a random mix achieves it).
    Returns 1.0 when no point reaches the target.
    """
    curve = _share_curve(points, weak, strong)
    best = 1.0
    for (x0, y0), (x1, y1) in itertools.pairwise(curve):
        if y0 >= target:
            best = min(best, x0)
        elif y1 >= target:
            best = min(best, x0 + (x1 - x0) * (target - y0) / (y1 - y0))
    return best


def upper_hull(points: Sequence[Point]) -> list[Point]:
    """The non-decreasing convex hull: cost-quality points no mix of other points beats."""
    frontier: list[Point] = []
    for p in sorted(points, key=lambda p: (p.cost, -p.quality)):
        if frontier and p.quality <= frontier[-1].quality:
            continue  # costs more, gives no more: never on a non-decreasing frontier
        while len(frontier) >= 2 and _cross(frontier[-2], frontier[-1], p) >= 0:
            frontier.pop()  # frontier[-1] lies on or under the segment from frontier[-2] to p
        frontier.append(p)
    return frontier


def _cross(a: Point, b: Point, c: Point) -> float:
    return (b.cost - a.cost) * (c.quality - a.quality) - (b.quality - a.quality) * (c.cost - a.cost)


def hull_quality_at(hull: Sequence[Point], cost: float) -> float:
    """Quality of the hull at a budget: 0 below its cheapest point, flat past its dearest."""
    if not hull or cost < hull[0].cost:
        return 0.0
    for a, b in itertools.pairwise(hull):
        if a.cost <= cost <= b.cost:
            return a.quality + (b.quality - a.quality) * (cost - a.cost) / (b.cost - a.cost)
    return hull[-1].quality


def aiq(points: Sequence[Point], cost_min: float, cost_max: float) -> float:
    """Average improvement in quality: area under the non-decreasing convex hull over [cost_min, cost_max],
    divided by the range. RouterBench takes the range from the cheapest to the dearest single model."""
    if cost_max <= cost_min:
        raise InvalidArgumentError(f"AIQ needs cost_max > cost_min (got {cost_min}, {cost_max})")
    hull = upper_hull(points)
    # The hull is piecewise linear: integrate exactly over its breakpoints inside the range.
    xs = sorted({cost_min, cost_max, *(p.cost for p in hull if cost_min < p.cost < cost_max)})
    area = 0.0
    for x0, x1 in itertools.pairwise(xs):
        if not hull or x1 <= hull[0].cost:
            continue  # nothing is achievable below the cheapest point
        area += (x1 - x0) * (hull_quality_at(hull, x0) + hull_quality_at(hull, x1)) / 2
    return area / (cost_max - cost_min)


def apgr_by_cost(points: Sequence[Point], weak: Point, strong: Point) -> float:
    """Mean PGR of the hull of ``points`` plus both models' points, over the cost range weak -> strong."""
    if strong.cost <= weak.cost:
        raise InvalidArgumentError("APGR by cost needs the strong model to cost more than the weak one")
    mean_quality = aiq([*points, weak, strong], weak.cost, strong.cost)
    return pgr(mean_quality, weak.quality, strong.quality)
