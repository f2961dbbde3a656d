"""Offline replay: how a router would have done on recorded outcomes, without calling any model.

Each router is replayed over its knob; every setting gives one operating point (accuracy, cost per
query, share of calls per model). Alongside: every single model, a random router and the oracle
(the cheapest model that answered correctly), so a router's figures always have their references.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from inferopt.errors import InvalidArgumentError
from inferopt.routing.data import Outcomes
from inferopt.routing.metrics import Point, aiq, apgr, apgr_by_cost, cpt

# A replay: the model index each row is sent to, at one knob setting.
Decide = Callable[[float], Sequence[int]]


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """One router setting replayed over the rows."""

    knob: float
    accuracy: float
    cost_per_query: float
    call_share: dict[str, float]


@dataclass(slots=True)
class RouterReport:
    """A router's curve over its knob, and its summary metrics."""

    name: str
    points: list[OperatingPoint]
    metrics: dict[str, float] = field(default_factory=dict)

    def best_within(self, budget: float) -> OperatingPoint | None:
        """The most accurate point costing at most ``budget`` per query."""
        affordable = [p for p in self.points if p.cost_per_query <= budget]
        return max(affordable, key=lambda p: (p.accuracy, -p.cost_per_query), default=None)


def replay(data: Outcomes, choices: Sequence[int], knob: float = 0.0) -> OperatingPoint:
    """Accuracy, cost per query and call shares when row ``i`` goes to model ``choices[i]``."""
    n = len(data)
    if len(choices) != n:
        raise InvalidArgumentError(f"{len(choices)} choices for {n} rows")
    calls = [0] * len(data.models)
    correct = cost = 0.0
    for i, j in enumerate(choices):
        correct += data.correct[i][j]
        cost += data.cost[i][j]
        calls[j] += 1
    return OperatingPoint(knob, correct / n, cost / n, {m: calls[j] / n for j, m in enumerate(data.models)})


def single_model_reports(data: Outcomes) -> list[RouterReport]:
    return [RouterReport(m, [replay(data, [j] * len(data))]) for j, m in enumerate(data.models)]


def oracle_report(data: Outcomes) -> RouterReport:
    """Per row, the cheapest of the models with the row's best quality: with 0/1 correctness, the
    cheapest correct model (the cheapest model when none is correct). An upper bound."""
    choices = []
    for quality, cost in zip(data.correct, data.cost, strict=True):
        best = max(quality)
        choices.append(min((j for j, q in enumerate(quality) if q == best), key=lambda j: cost[j]))
    return RouterReport("oracle", [replay(data, choices)])


def oracle_curve_report(data: Outcomes, steps: int = 20) -> RouterReport:
    """Two models: the best any router can do with a share ``s`` of strong calls (RouteLLM's
    ``get_optimal_accuracy``): the rows where the strong model gains most go to it first."""
    weak, strong = weak_and_strong(data)
    order = sorted(range(len(data)), key=lambda i: data.correct[i][weak] - data.correct[i][strong])
    points = []
    for step in range(steps + 1):
        chosen = set(order[: round(step / steps * len(data))])
        points.append(replay(data, [strong if i in chosen else weak for i in range(len(data))], step / steps))
    return RouterReport("oracle curve", points)


def weak_and_strong(data: Outcomes) -> tuple[int, int]:
    """Indices of the cheapest model and of the most accurate one (ties: the cheaper)."""
    weak = min(range(len(data.models)), key=lambda j: data.mean_cost(data.models[j]))
    strong = max(range(len(data.models)), key=lambda j: (data.mean_accuracy(data.models[j]), -j))
    return weak, strong


def random_router_report(data: Outcomes, seed: int = 0, steps: int = 20) -> RouterReport:
    """Send a random share ``s`` of rows to the strongest model, the rest to the cheapest (RouteLLM's baseline)."""
    weak, strong = weak_and_strong(data)
    rng = random.Random(seed)
    points = []
    for step in range(steps + 1):
        share = step / steps
        rows = list(range(len(data)))
        rng.shuffle(rows)
        chosen = set(rows[: round(share * len(data))])
        points.append(replay(data, [strong if i in chosen else weak for i in range(len(data))], share))
    return RouterReport("random", points)


def router_report(name: str, data: Outcomes, decide: Decide, knobs: Sequence[float]) -> RouterReport:
    return RouterReport(name, [replay(data, decide(k), k) for k in knobs])


def add_metrics(report: RouterReport, data: Outcomes) -> None:
    """AIQ over the single models' cost range, APGR by cost (any number of models); with two models
    also APGR and CPT(50%)/CPT(80%)."""
    singles = single_model_reports(data)
    costs = [s.points[0].cost_per_query for s in singles]
    weak, strong = weak_and_strong(data)
    strong_name = data.models[strong]
    points = [Point(p.cost_per_query, p.accuracy, p.call_share[strong_name]) for p in report.points]
    report.metrics["aiq"] = aiq(points, min(costs), max(costs))
    q_weak = singles[weak].points[0].accuracy
    q_strong = singles[strong].points[0].accuracy
    weak_point, strong_point = (
        Point(singles[j].points[0].cost_per_query, singles[j].points[0].accuracy) for j in (weak, strong)
    )
    if q_strong != q_weak and strong_point.cost > weak_point.cost:
        report.metrics["apgr_by_cost"] = apgr_by_cost(points, weak_point, strong_point)
    if len(data.models) == 2 and q_strong != q_weak:
        report.metrics["apgr"] = apgr(points, q_weak, q_strong)
        report.metrics["cpt50"] = cpt(points, q_weak, q_strong, 0.5)
        report.metrics["cpt80"] = cpt(points, q_weak, q_strong, 0.8)


def evaluate(data: Outcomes, routers: dict[str, tuple[Decide, Sequence[float]]], seed: int = 0) -> list[RouterReport]:
    """Reports for every single model, the random router, the oracle (with two models also the oracle's
    curve over the strong-call share) and each given router, with metrics."""
    reports = [*single_model_reports(data), random_router_report(data, seed), oracle_report(data)]
    if len(data.models) == 2:
        reports.append(oracle_curve_report(data))
    reports += [router_report(name, data, decide, knobs) for name, (decide, knobs) in routers.items()]
    for report in reports:
        if len(report.points) > 1:  # a single operating point has no curve to measure
            add_metrics(report, data)
    return reports


@dataclass(frozen=True, slots=True)
class AgreementStage:
    """An offline cascade stage: accept ``model``'s recorded answer when at least ``threshold`` of
    ``agree_with``'s recorded answers match it (after ``short_answer``); no peers = accept."""

    model: str
    agree_with: tuple[str, ...] = ()
    threshold: float = 1.0


def replay_agreement_cascade(data: Outcomes, stages: Sequence[AgreementStage]) -> tuple[OperatingPoint, list[str]]:
    """Replay an agreement cascade over recorded answers: the operating point (every call charged)
    and the model accepted on each row. Needs ``data.answers`` (``read_routerbench(..., with_answers=True)``)."""
    from inferopt.routing.checks import short_answer

    if not data.answers:
        raise InvalidArgumentError("an agreement cascade needs recorded answers: read the data with with_answers=True")
    col = {m: j for j, m in enumerate(data.models)}
    calls = dict.fromkeys(data.models, 0)
    correct = cost = 0.0
    chosen: list[str] = []
    for i in range(len(data)):
        for k, stage in enumerate(stages):
            j = col[stage.model]
            cost += data.cost[i][j]
            calls[stage.model] += 1
            peers = [col[m] for m in stage.agree_with]
            for p in peers:
                cost += data.cost[i][p]
                calls[data.models[p]] += 1
            mine = short_answer(data.answers[i][j])
            agree = sum(short_answer(data.answers[i][p]) == mine for p in peers) / len(peers) if peers else 1.0
            if k == len(stages) - 1 or agree >= stage.threshold:
                correct += data.correct[i][j]
                chosen.append(stage.model)
                break
    n = len(data)
    return OperatingPoint(0.0, correct / n, cost / n, {m: c / n for m, c in calls.items()}), chosen


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (numpy's and pandas' default)."""
    pos = q * (len(sorted_values) - 1)
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def routellm_apgr(data: Outcomes, strong_scores: Sequence[float], bins: int = 10) -> tuple[float, list[OperatingPoint]]:
    """APGR exactly as RouteLLM's ``evals/evaluate.py`` computes it, and its points.

    The router's per-row scores for the strong model (RouteLLM's "strong win rate") are cut at
    their ``bins`` quantiles (``pd.qcut(..., retbins=True)``): each edge sends the rows scoring at
    least it (the last edge: above it) to the strong model. APGR is the trapezoid area under
    accuracy over the strong-call share, minus the weak model's, over the strong's minus the weak's.
    Two-model data only.
    """
    if len(data.models) != 2 or len(strong_scores) != len(data):
        raise InvalidArgumentError("RouteLLM's APGR needs two-model data and one score per row")
    weak, strong = weak_and_strong(data)
    edges = [_quantile(sorted(strong_scores), i / bins) for i in range(bins + 1)]
    points = []
    for i, edge in enumerate(edges):
        last = i == len(edges) - 1
        choices = [strong if (s > edge if last else s >= edge) else weak for s in strong_scores]
        points.append(replay(data, choices, edge))
    points.sort(key=lambda p: p.call_share[data.models[strong]])
    shares = [p.call_share[data.models[strong]] for p in points]
    area = sum(
        (x1 - x0) * (a.accuracy + b.accuracy) / 2
        for x0, x1, a, b in zip(shares, shares[1:], points, points[1:], strict=False)
    )
    span = shares[-1] - shares[0]
    q_weak, q_strong = data.mean_accuracy(data.models[weak]), data.mean_accuracy(data.models[strong])
    if span <= 0 or q_strong == q_weak:
        raise InvalidArgumentError("RouteLLM's APGR is undefined: the scores do not vary or the models tie")
    return (area - q_weak * span) / ((q_strong - q_weak) * span), points
