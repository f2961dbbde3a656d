"""Constraint-based selection: the best option that meets every requirement, with its reasons.

Requirements are bounds on objectives (max latency, max cost, min quality, or any column). Among
the options that meet them, the choice is made on the Pareto front: the highest quality, then the
lowest cost, then the lowest latency (a different ``prefer`` order can be given). When nothing
qualifies the error names the closest option and by how much it misses, so the user knows which
requirement to relax or which option to improve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inferopt.errors import NoFeasibleOptionError
from inferopt.tradeoff.pareto import (
    COST,
    DEFAULT_OBJECTIVES,
    LATENCY,
    QUALITY,
    Objective,
    Option,
    dominated_by,
    pareto_front,
)


@dataclass(frozen=True, slots=True)
class Bound:
    """``objective`` must stay at or below (``max``) / at or above (``min``) ``limit``."""

    objective: str
    kind: str  # "max" or "min"
    limit: float

    def miss(self, option: Option) -> float:
        """How far ``option`` is outside the bound, relative to the limit (0 when it meets it)."""
        value = float(option.values[self.objective])
        gap = value - self.limit if self.kind == "max" else self.limit - value
        return max(0.0, gap) / (abs(self.limit) or 1.0)

    def describe(self, option: Option) -> str:
        value = float(option.values[self.objective])
        sign = "<=" if self.kind == "max" else ">="
        verdict = "meets" if self.miss(option) == 0 else "misses"
        return f"{self.objective} {value:g} {sign if verdict == 'meets' else _negate(sign)} {self.limit:g}"


def _negate(sign: str) -> str:
    return ">" if sign == "<=" else "<"


def requirements(
    max_latency: float | None = None, max_cost: float | None = None, min_quality: float | None = None
) -> list[Bound]:
    """The usual three requirements as bounds on ``latency_p95``, ``cost_per_1k`` and ``quality``."""
    bounds = []
    if max_latency is not None:
        bounds.append(Bound(LATENCY.name, "max", max_latency))
    if max_cost is not None:
        bounds.append(Bound(COST.name, "max", max_cost))
    if min_quality is not None:
        bounds.append(Bound(QUALITY.name, "min", min_quality))
    return bounds


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The chosen option, the front it was chosen from, and why (one sentence per reason)."""

    chosen: Option
    front: list[Option]
    feasible: list[Option]
    reasons: list[str]


def select(
    options: Sequence[Option],
    bounds: Sequence[Bound] = (),
    objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
    prefer: Sequence[Objective] | None = None,
) -> Recommendation:
    """The best option meeting every bound; raises :class:`NoFeasibleOptionError` naming the closest."""
    if not options:
        raise NoFeasibleOptionError("there are no options to choose from; the table is empty")
    for bound in bounds:
        # Fail with the column's name, not a KeyError, when a bound names a column no option has.
        options[0].value(Objective(bound.objective))
    front = pareto_front(options, objectives)
    feasible = [o for o in options if all(b.miss(o) == 0 for b in bounds)]
    if not feasible:
        closest = min(options, key=lambda o: (sum(b.miss(o) for b in bounds), o.name))
        misses = "; ".join(b.describe(closest) for b in bounds if b.miss(closest) > 0)
        raise NoFeasibleOptionError(
            f"no option meets the requirements ({_describe_bounds(bounds)}); the closest is {closest.name!r}, "
            f"which misses: {misses}. Relax that requirement or improve that option.",
            closest=closest.name,
        )
    order = list(prefer) if prefer is not None else [o for o in (QUALITY, COST, LATENCY) if o in objectives]
    order += [o for o in objectives if o not in order]
    # A feasible option that is dominated has a feasible dominator only if that one also meets the
    # bounds; choosing within the feasible set's own front keeps the choice undominated there.
    feasible_front = pareto_front(feasible, objectives)
    chosen = min(feasible_front, key=lambda o: _preference_key(o, order))
    reasons = _reasons(chosen, options, front, feasible, feasible_front, bounds, objectives, order)
    return Recommendation(chosen, front, feasible, reasons)


def _preference_key(option: Option, order: Sequence[Objective]) -> tuple[float, ...]:
    return tuple(option.value(o) if o.direction == "min" else -option.value(o) for o in order)


def _describe_bounds(bounds: Sequence[Bound]) -> str:
    if not bounds:
        return "none"
    return ", ".join(f"{b.objective} {'<=' if b.kind == 'max' else '>='} {b.limit:g}" for b in bounds)


def _reasons(
    chosen: Option,
    options: Sequence[Option],
    front: Sequence[Option],
    feasible: Sequence[Option],
    feasible_front: Sequence[Option],
    bounds: Sequence[Bound],
    objectives: Sequence[Objective],
    order: Sequence[Objective],
) -> list[str]:
    reasons = []
    if bounds:
        reasons.append(f"meets every requirement: {', '.join(b.describe(chosen) for b in bounds)}")
    if chosen in front:
        reasons.append("is on the Pareto front: no option is at least as good on every objective and better on one")
    else:
        beaters = ", ".join(o.name for o in dominated_by(chosen, options, objectives))
        reasons.append(f"is the best feasible choice; the options that dominate it ({beaters}) miss a requirement")
    first = order[0]
    word = "highest" if first.direction == "max" else "lowest"
    reasons.append(
        f"has the {word} {first.name} ({chosen.value(first):g}) of the {len(feasible)} option(s) meeting the "
        f"requirements; ties are broken by {', '.join(o.name for o in order[1:]) or 'name'}"
    )
    rejected = [o for o in front if o not in feasible]
    for option in rejected:
        misses = "; ".join(b.describe(option) for b in bounds if b.miss(option) > 0)
        reasons.append(f"rejected {option.name!r} (on the front): {misses}")
    return reasons
