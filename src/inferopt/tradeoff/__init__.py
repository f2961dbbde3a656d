"""Trade-offs: Pareto fronts over any objectives, constraint-based selection, experiments, plots."""

from inferopt.tradeoff.pareto import (
    COST,
    DEFAULT_OBJECTIVES,
    LATENCY,
    QUALITY,
    Objective,
    Option,
    dominated_by,
    non_dominated_sort,
    pareto_front,
)
from inferopt.tradeoff.select import Bound, Recommendation, requirements, select
from inferopt.tradeoff.table import load_options, options_from_rows

__all__ = [
    "COST",
    "DEFAULT_OBJECTIVES",
    "LATENCY",
    "QUALITY",
    "Bound",
    "Objective",
    "Option",
    "Recommendation",
    "dominated_by",
    "load_options",
    "non_dominated_sort",
    "options_from_rows",
    "pareto_front",
    "requirements",
    "select",
]
