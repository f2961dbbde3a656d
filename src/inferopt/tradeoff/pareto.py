"""Pareto analysis over any set of objectives, each minimised or maximised.

An option *dominates* another when it is at least as good on every objective and strictly better
on one. The *front* is the set of options no other option dominates: the only ones worth choosing,
whatever the weights. Two options equal on every objective do not dominate each other, so both stay.

Scaling: with two objectives the front is one sort and a sweep (O(n log n)); with more, options
are sorted so that no option can be dominated by one that comes after it, and each is compared only
with the front found so far (the "sort-filter-skyline" algorithm, O(n * front size)), never with
every other option. A full non-dominated sort (front 1, front 2, ...) peels fronts this way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from inferopt.errors import ConfigError

Direction = Literal["min", "max"]


@dataclass(frozen=True, slots=True)
class Objective:
    """One column to optimise: ``name`` and whether lower (``min``) or higher (``max``) is better."""

    name: str
    direction: Direction = "min"

    def __post_init__(self) -> None:
        if self.direction not in ("min", "max"):
            raise ConfigError(f"objective {self.name!r}: direction must be 'min' or 'max' (got {self.direction!r})")

    @classmethod
    def parse(cls, text: str) -> Objective:
        """``"latency_p95:min"`` or ``"quality:max"`` (the direction defaults to ``min``)."""
        name, _, direction = text.partition(":")
        return cls(name.strip(), (direction.strip() or "min"))  # type: ignore[arg-type]


# The usual three: fast, cheap, good.
LATENCY = Objective("latency_p95", "min")
COST = Objective("cost_per_1k", "min")
QUALITY = Objective("quality", "max")
DEFAULT_OBJECTIVES: tuple[Objective, ...] = (LATENCY, COST, QUALITY)


@dataclass(frozen=True, slots=True)
class Option:
    """A named choice with measured values (``values[objective.name]``) and whatever produced it."""

    name: str
    values: Mapping[str, float]
    details: Mapping[str, Any] = field(default_factory=dict)

    def value(self, objective: Objective) -> float:
        try:
            return float(self.values[objective.name])
        except KeyError:
            raise ConfigError(
                f"option {self.name!r} has no value for objective {objective.name!r} "
                f"(it has: {', '.join(sorted(self.values)) or 'none'}); name the right column"
            ) from None


def _keys(options: Sequence[Option], objectives: Sequence[Objective]) -> list[tuple[float, ...]]:
    """Each option as a tuple where lower is better on every axis."""
    if not objectives:
        raise ConfigError("Pareto analysis needs at least one objective")
    keys = []
    for option in options:
        key = tuple(option.value(o) if o.direction == "min" else -option.value(o) for o in objectives)
        if any(math.isnan(v) for v in key):
            raise ConfigError(f"option {option.name!r} has a missing (NaN) value; fill it or drop the option")
        keys.append(key)
    return keys


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether key ``a`` dominates key ``b`` (both lower-is-better on every axis)."""
    strictly = False
    for x, y in zip(a, b, strict=True):
        if x > y:
            return False
        if x < y:
            strictly = True
    return strictly


def _front_indices(keys: Sequence[tuple[float, ...]], indices: Sequence[int]) -> list[int]:
    """Indices (among ``indices``) of keys that no other key in ``indices`` dominates."""
    # Lexicographic order guarantees that a dominator always comes before what it dominates.
    ordered = sorted(indices, key=lambda i: keys[i])
    if keys and len(keys[0]) == 2:
        return _sweep_2d(keys, ordered)
    front: list[int] = []
    for i in ordered:
        if not any(dominates(keys[j], keys[i]) for j in front):
            front.append(i)
    return front


def _sweep_2d(keys: Sequence[tuple[float, ...]], ordered: Sequence[int]) -> list[int]:
    """Two objectives: after sorting by (x, y), an option is on the front iff its y beats every
    earlier y, or it ties exactly with the last front member (equal options both stay)."""
    front: list[int] = []
    best_y = math.inf
    for i in ordered:
        x, y = keys[i]
        if y < best_y:
            front.append(i)
            best_y = y
        elif front and keys[front[-1]] == (x, y):
            front.append(i)
    return front


def pareto_front(options: Sequence[Option], objectives: Sequence[Objective] = DEFAULT_OBJECTIVES) -> list[Option]:
    """The options no other option dominates, in input order."""
    keys = _keys(options, objectives)
    return [options[i] for i in sorted(_front_indices(keys, range(len(options))))]


def non_dominated_sort(
    options: Sequence[Option], objectives: Sequence[Objective] = DEFAULT_OBJECTIVES
) -> list[list[Option]]:
    """Fronts in order: the Pareto front, then the front of what remains, and so on."""
    keys = _keys(options, objectives)
    remaining = list(range(len(options)))
    fronts: list[list[Option]] = []
    while remaining:
        front = _front_indices(keys, remaining)
        fronts.append([options[i] for i in sorted(front)])
        taken = set(front)
        remaining = [i for i in remaining if i not in taken]
    return fronts


def dominated_by(
    option: Option, options: Sequence[Option], objectives: Sequence[Objective] = DEFAULT_OBJECTIVES
) -> list[Option]:
    """The options that dominate ``option`` (empty when it is on the front): the reason it is not."""
    mine = _keys([option], objectives)[0]
    keys = _keys(options, objectives)
    return [other for other, key in zip(options, keys, strict=True) if dominates(key, mine)]
