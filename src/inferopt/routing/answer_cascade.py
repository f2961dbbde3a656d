"""An answer-aware cascade whose escalation rule is learned from recorded rows.

Every request goes to a few cheap models; their answers' **agreement pattern** (which of them
gave the same answer, e.g. ``0.0.1``: the first two agree, the third differs) and the request's
**task** (predicted from the prompt text by a nearest-centroid classifier trained on the recorded
rows' sources) form a *signature*. From the training rows, each signature learns:

- which cheap model's answer to accept (the one most often right under that signature: with
  three models, usually the majority);
- the expected accuracy gain of paying the strong model instead, and the strong model's cost.

The knob is the gain per dollar at which to escalate: sweeping it from high to low escalates the
most promising signatures first, which traces a cost-quality curve. Gains are shrunk toward the
task's average (``prior`` pseudo-rows) so a signature seen twice does not decide on its own.

:func:`replay_pattern_cascade` replays it over recorded answers, charging every attempted call
(all cheap models on every row, the strong model where it escalates). Fit on training rows and
replay on others: fitting and replaying on the same rows is the in-sample optimum of this class
of routers (``benchmarks/routing/routerbench_ceiling.py`` uses it as an upper bound).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inferopt.errors import InvalidArgumentError
from inferopt.routing.checks import short_answer
from inferopt.routing.data import Outcomes
from inferopt.routing.evaluate import OperatingPoint, RouterReport
from inferopt.routing.task_classifier import TaskClassifier

SIGNATURES = ("agreement", "answers")


def agreement_pattern(answers: Sequence[str]) -> str:
    """Which answers agree, as first-appearance indices: ``["B", "B", "C"]`` -> ``"0.0.1"``."""
    keys = [short_answer(a) for a in answers]
    return ".".join(str(keys.index(k)) for k in keys)


def answers_pattern(answers: Sequence[str]) -> str:
    """The short answers themselves, long ones by agreement: ``["B", "b) because", "C"]`` -> ``"B/B/C"``.

    Finer than :func:`agreement_pattern` for multiple choice (it tells "all say A" from "all say
    B"), so it needs more rows to learn; long answers (code, prose) are compared as in
    :func:`agreement_pattern`, since their text would make every row a signature of its own.
    """
    keys = [short_answer(a) for a in answers]
    return "/".join(k if len(k) <= 8 else f"#{keys.index(k)}" for k in keys)


@dataclass(frozen=True, slots=True)
class SignatureStats:
    """What the training rows say about one signature."""

    accept: int  # index into the cascade's cheap models of the answer to accept
    gain: float  # expected accuracy gain of escalating (smoothed)
    strong_cost: float  # mean cost of the strong model's answer
    rows: int

    @property
    def rate(self) -> float:
        """Expected accuracy gained per dollar of escalation: escalate when it reaches the knob."""
        return self.gain / self.strong_cost


@dataclass(frozen=True, slots=True)
class PatternCascade:
    """Cheap models' answers -> accept one of them, or escalate to ``strong`` (see the module docstring)."""

    cheap: tuple[str, ...]
    strong: str
    tasks: TaskClassifier
    table: dict[str, SignatureStats]
    fallback: dict[str, SignatureStats]  # per task, for signatures never seen in training
    signature: str = "agreement"

    @classmethod
    def fit(
        cls,
        data: Outcomes,
        cheap: Sequence[str],
        strong: str,
        *,
        prior: float = 5.0,
        signature: str = "agreement",
        tasks: TaskClassifier | None = None,
    ) -> PatternCascade:
        """Learn from recorded rows (with answers); ``prior`` pseudo-rows pull each signature to its task's mean.

        ``signature``: ``"agreement"`` (which cheap answers match) or ``"answers"`` (the answers themselves).
        ``tasks``: a task classifier already trained on these rows' sources (else one is trained here).
        """
        if not data.answers:
            raise InvalidArgumentError(
                "an answer cascade learns from recorded answers: read the data with with_answers=True"
            )
        if signature not in SIGNATURES:
            raise InvalidArgumentError(f"signature must be one of {SIGNATURES} (got {signature!r})")
        pattern = agreement_pattern if signature == "agreement" else answers_pattern
        cols = [data.models.index(m) for m in cheap]
        s = data.models.index(strong)
        tasks = tasks or TaskClassifier.fit(data.prompts, data.groups)
        by_signature: dict[str, list[int]] = {}
        by_task: dict[str, list[int]] = {}
        for i in range(len(data)):
            task = data.groups[i]  # training rows know their source; new prompts get it predicted
            by_task.setdefault(task, []).append(i)
            key = f"{task}|{pattern([data.answers[i][j] for j in cols])}"
            by_signature.setdefault(key, []).append(i)

        def stats(rows: list[int], base: SignatureStats | None) -> SignatureStats:
            weight = prior if base is not None else 0.0
            right = [sum(data.correct[i][j] for i in rows) for j in cols]
            accept = max(range(len(cols)), key=lambda k: (right[k], -k))
            base_gain = base.gain if base is not None else 0.0
            gain = sum(data.correct[i][s] - data.correct[i][cols[accept]] for i in rows)
            strong_cost = max(sum(data.cost[i][s] for i in rows) / len(rows), 1e-12)  # a rate needs a cost
            return SignatureStats(accept, (gain + weight * base_gain) / (len(rows) + weight), strong_cost, len(rows))

        fallback = {task: stats(rows, None) for task, rows in by_task.items()}
        table = {key: stats(rows, fallback[key.split("|", 1)[0]]) for key, rows in by_signature.items()}
        return cls(tuple(cheap), strong, tasks, table, fallback, signature)

    def lookup(self, prompt: str, answers: Sequence[str], task: str | None = None) -> SignatureStats:
        """The learned statistics for a request's prompt and its cheap models' answers (in ``cheap`` order).

        ``task``: the prompt's task when already predicted (replays predict each prompt once).
        """
        task = task or self.tasks.predict(prompt)
        pattern = agreement_pattern if self.signature == "agreement" else answers_pattern
        return self.table.get(f"{task}|{pattern(answers)}") or self.fallback[task]

    def decide(self, prompt: str, answers: Sequence[str], escalate_at: float, task: str | None = None) -> int | None:
        """Index (in ``cheap``) of the answer to accept, or None to escalate to the strong model."""
        stats = self.lookup(prompt, answers, task)
        return None if stats.rate >= escalate_at else stats.accept

    def knobs(self, points: int = 60) -> list[float]:
        """Escalation thresholds (gain per dollar) from escalate-nothing to escalate-everything."""
        rates = sorted({s.rate for s in (*self.table.values(), *self.fallback.values())})
        step = max(1, len(rates) // points)
        return [float("inf"), *reversed(rates[::step]), rates[0] - 1.0] if rates else [float("inf")]


def replay_pattern_cascade(
    data: Outcomes, cascade: PatternCascade, name: str = "", tasks: Sequence[str] | None = None, points: int = 60
) -> RouterReport:
    """The cascade's curve over its knob (about ``points`` settings) on recorded rows (with answers),
    every attempted call charged.

    ``tasks``: the rows' predicted tasks, when already known (``cascade.tasks.predict`` otherwise).
    """
    if not data.answers:
        raise InvalidArgumentError(
            "replaying an answer cascade needs recorded answers: read the data with with_answers=True"
        )
    cols = [data.models.index(m) for m in cascade.cheap]
    s = data.models.index(cascade.strong)
    tasks = tasks if tasks is not None else [cascade.tasks.predict(p) for p in data.prompts]
    rows = []  # (escalation rate, correct if accepted, correct if escalated, strong cost), every row
    cheap_cost = 0.0
    for i, task in enumerate(tasks):
        stats = cascade.lookup(data.prompts[i], [data.answers[i][j] for j in cols], task)
        cheap_cost += sum(data.cost[i][j] for j in cols)
        rows.append((stats.rate, data.correct[i][cols[stats.accept]], data.correct[i][s], data.cost[i][s]))
    rows.sort(key=lambda r: -r[0])  # a knob escalates a prefix of the rows in this order
    n = len(data)
    shares = {m: (1.0 if m in cascade.cheap else 0.0) for m in data.models}
    curve, escalated = [], 0
    correct, cost = sum(r[1] for r in rows), cheap_cost
    for knob in cascade.knobs(points):
        while escalated < n and rows[escalated][0] >= knob:
            _, accepted, strong, strong_cost = rows[escalated]
            correct += strong - accepted
            cost += strong_cost
            escalated += 1
        call_share = shares | {cascade.strong: shares[cascade.strong] + escalated / n}
        curve.append(OperatingPoint(knob, correct / n, cost / n, call_share))
    return RouterReport(name or f"answer cascade {'+'.join(cascade.cheap)}>{cascade.strong}", curve)


def escalate_at_for_budget(data: Outcomes, cascade: PatternCascade, budget_share: float) -> float:
    """The knob with the best accuracy on ``data`` at a cost within ``budget_share`` of the strong
    model's (escalate nothing when even that is over budget)."""
    budget = budget_share * data.mean_cost(cascade.strong)
    best = replay_pattern_cascade(data, cascade).best_within(budget)
    return best.knob if best is not None else float("inf")
