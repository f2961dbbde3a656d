"""How far can routing go on RouterBench within 30% of GPT-4's cost? Upper bounds, measured.

    python benchmarks/routing/routerbench_ceiling.py [--budget 0.3] [--seeds 0 1 2]

The issue's target: GPT-4's accuracy at no more than 30% of GPT-4's cost per query, on rows the
router was not trained on. This script measures, on ../shared/data/routerbench (2,225 rows):

In-sample optima (chosen with every row's outcome known: upper bounds for their class of routers):
- the oracle (the cheapest correct model per row): an upper bound for any router at all;
- the best per-task fixed model mix: for each task (ARC, MBPP, Winogrande) any random mix of the
  11 models, tasks combined under one budget (a linear programme, solved exactly: per-task convex
  hulls, then a fractional knapsack over their segments);
- the best answer-pattern cascade: call 1-3 cheap models (every model whose mean cost is under the
  budget), group rows by task and the pattern of the cheap answers, accept the best cheap answer
  or escalate to GPT-4 per group, chosen in-sample; with one set of cheap models for every task,
  and with a set per task; with the agreement pattern, and with the answers themselves (finer);
  and once more as if the cheap calls were free (a bound for any cheaper way of getting them);
- cascades with a perfect verifier (it knows whether a cheap answer is correct): on every task (close
  to the oracle: what such a check would be worth), and on MBPP only (code is the one task here where a
  verifier is conceivable, by running the answer against tests) with the best pattern cascades on
  ARC and Winogrande.

Held-out (train on a seeded half, report the other half, as `inferopt route eval` does): the kNN
router, and the answer-pattern cascades above with their cheap models chosen on the train half.

Every figure is the best accuracy at cost <= budget x GPT-4's mean cost, where mixing two operating
points at random is allowed (the hull): the most favourable reading of each curve.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from inferopt.routing.answer_cascade import PatternCascade, replay_pattern_cascade
from inferopt.routing.data import Outcomes, read_routerbench
from inferopt.routing.evaluate import oracle_report
from inferopt.routing.learned import KnnRouter, knob_grid
from inferopt.routing.metrics import Point, hull_quality_at, upper_hull
from inferopt.routing.task_classifier import TaskClassifier

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "routerbench"
STRONG = "gpt-4-1106-preview"
Curve = list[Point]  # cost and correct answers summed over rows (not means), so tasks add up


def best_within(curves: dict[str, list[Curve]], budget_total: float) -> float:
    """Most correct answers within ``budget_total`` when each task picks any mix of its curves' points.

    Per task, the hull of all its points; then the hull segments of all tasks, steepest first (a
    fractional knapsack: exact for mixes, which are linear).
    """
    correct, spent, segments = 0.0, 0.0, []
    for task_curves in curves.values():
        hull = upper_hull([p for curve in task_curves for p in curve])
        correct += hull[0].quality
        spent += hull[0].cost
        segments += [(b.quality - a.quality, b.cost - a.cost) for a, b in itertools.pairwise(hull)]
    if spent > budget_total:
        return float("nan")  # even the cheapest choice per task is over budget
    for gain, cost in sorted(segments, key=lambda s: -s[0] / s[1]):
        take = min(1.0, (budget_total - spent) / cost)
        correct += take * gain
        spent += take * cost
        if take < 1.0:
            break
    return correct


def single_model_curves(data: Outcomes) -> Curve:
    return [Point(sum(r[j] for r in data.cost), sum(r[j] for r in data.correct)) for j in range(len(data.models))]


def cascade_curve(rows: tuple[Outcomes, list[str]], cascade: PatternCascade) -> Curve:
    """The cascade's curve on ``rows`` (outcomes and their predicted tasks), at every setting of its knob."""
    data, tasks = rows
    report = replay_pattern_cascade(data, cascade, tasks=tasks, points=100_000)
    return [Point(p.cost_per_query * len(data), p.accuracy * len(data)) for p in report.points]


def by_task(data: Outcomes, classifier: TaskClassifier) -> dict[str, tuple[Outcomes, list[str]]]:
    """Rows per (recorded) task, each with the tasks a cascade predicts for them (once, not per replay)."""
    predicted = [classifier.predict(p) for p in data.prompts]
    out = {}
    for task in sorted(set(data.groups)):
        rows = [i for i, g in enumerate(data.groups) if g == task]
        out[task] = (data.subset(rows), [predicted[i] for i in rows])
    return out


def cheap_sets(data: Outcomes, budget: float) -> list[tuple[str, ...]]:
    cheap = [m for m in data.models if m != STRONG and data.mean_cost(m) < budget]
    return [c for r in (1, 2, 3) for c in itertools.combinations(cheap, r)]


def free_cheap_calls(data: Outcomes) -> Outcomes:
    """The same rows with every model but the strong one costing nothing."""
    s = data.models.index(STRONG)
    cost = tuple(tuple(c if j == s else 0.0 for j, c in enumerate(row)) for row in data.cost)
    return replace(data, cost=cost)


def pattern_bounds(
    fit_on: Outcomes,
    score_on: Outcomes,
    sets: Sequence[tuple[str, ...]],
    budget_total: float,
    signature: str,
    verified_task: str | None = None,
) -> tuple[float, tuple[str, ...], float, dict[str, tuple[str, ...]]]:
    """(best with one cheap set, that set, best with a set per task, those sets), fitted on ``fit_on``.

    ``verified_task`` (in-sample only): that task's rows get a perfect verifier instead (see
    :func:`perfect_verifier_curves`), the other tasks keep their pattern cascades.

    In-sample when ``fit_on`` is ``score_on``: the one set is the best; per task, any mix of every
    set's operating points. Held out, each set's escalation rule is learned on ``fit_on``, and sets
    are chosen on ``fit_on`` (one set: by accuracy within budget; per task: by the area under its
    curve); accuracy is measured on ``score_on``.
    """
    tasks = TaskClassifier.fit(fit_on.prompts, fit_on.groups)
    fit_tasks, score_tasks = by_task(fit_on, tasks), by_task(score_on, tasks)
    fit_budget = budget_total * len(fit_on) / len(score_on)
    best_one: tuple[float, tuple[str, ...]] = (float("-inf"), ())
    per_task: dict[str, list[tuple[float, tuple[str, ...], Curve]]] = {t: [] for t in score_tasks}
    for cheap in sets:
        cascade = PatternCascade.fit(fit_on, cheap, STRONG, prior=0.0, signature=signature, tasks=tasks)
        fit_curves = {t: cascade_curve(rows, cascade) for t, rows in fit_tasks.items()}
        score = best_within({t: [c] for t, c in fit_curves.items()}, fit_budget)
        if score > best_one[0]:
            best_one = (score, cheap)
        for t, rows in score_tasks.items():
            # A task's set is judged by the area under its fit curve over the task's cost range.
            hull = upper_hull(fit_curves[t])
            top = max(p.cost for p in fit_curves[t])
            area = sum(hull_quality_at(hull, top * k / 20) for k in range(1, 21))
            per_task[t].append((area, cheap, cascade_curve(rows, cascade)))
    cascade = PatternCascade.fit(fit_on, best_one[1], STRONG, prior=0.0, signature=signature, tasks=tasks)
    one = best_within({t: [cascade_curve(rows, cascade)] for t, rows in score_tasks.items()}, budget_total)
    if fit_on is score_on:  # in-sample: any set per task, any mix of them (the class's optimum)
        options_of = {t: [curve for _, _, curve in options] for t, options in per_task.items()}
        many = best_within(options_of, budget_total)
        if verified_task is not None:
            options_of[verified_task] = perfect_verifier_curves(tasks_of(score_on)[verified_task])
            many = best_within(options_of, budget_total)
        return one / len(score_on), best_one[1], many / len(score_on), {}
    chosen = {t: max(options, key=lambda o: o[0]) for t, options in per_task.items()}
    many = best_within({t: [curve] for t, (_, _, curve) in chosen.items()}, budget_total)
    return one / len(score_on), best_one[1], many / len(score_on), {t: c[1] for t, c in chosen.items()}


def tasks_of(data: Outcomes) -> dict[str, Outcomes]:
    return {t: data.subset([i for i, g in enumerate(data.groups) if g == t]) for t in sorted(set(data.groups))}


def perfect_verifier_curves(data: Outcomes) -> list[Curve]:
    """Cascades whose check is a perfect verifier (it knows whether an answer is correct).

    Cheap models are tried one after another (cheapest first, or most accurate per dollar first),
    each paid for when tried; the first correct answer is accepted; when the first ``k`` are all
    wrong, GPT-4 is asked (or not: both are points). For code, a verifier is conceivable (run the
    answer against tests), so this bounds what such a check could ever do on a task.
    """
    s = data.models.index(STRONG)
    cheap = [
        j for j in range(len(data.models)) if j != s and data.mean_cost(data.models[j]) < data.mean_cost(STRONG) / 3
    ]
    by_cost = sorted(cheap, key=lambda j: data.mean_cost(data.models[j]))
    by_value = sorted(cheap, key=lambda j: -data.mean_accuracy(data.models[j]) / data.mean_cost(data.models[j]))
    curves = []
    for order in (by_cost, by_value):
        for with_strong in (False, True):
            curve = []
            for k in range(1, len(order) + 1):
                cost = correct = 0.0
                for c_row, k_row in zip(data.correct, data.cost, strict=True):
                    for j in order[:k]:
                        cost += k_row[j]
                        if c_row[j]:
                            correct += 1
                            break
                    else:
                        if with_strong:
                            cost += k_row[s]
                            correct += c_row[s]
                curve.append(Point(cost, correct))
            curves.append(curve)
    return curves


def knn_best(train: Outcomes, test: Outcomes, budget_total: float) -> float:
    """Correct answers of the kNN router trained on ``train``, at its best point on ``test`` within budget."""
    knn = KnnRouter.fit(train, k=100)
    p, c = knn.estimate_many(test.prompts)
    points = []
    for weight in knob_grid(knn, p, c):
        choice = [int(j) for j in knn.choose(p, c, weight)]
        points.append(
            Point(
                sum(test.cost[i][j] for i, j in enumerate(choice)),
                sum(test.correct[i][j] for i, j in enumerate(choice)),
            )
        )
    return best_within({"all": [points]}, budget_total)


def short(models: Sequence[str]) -> str:
    return "+".join(m.rsplit("/", 1)[-1] for m in models)


def main(budget_share: float, seeds: list[int]) -> None:
    if not DATA.is_dir():
        raise SystemExit(f"RouterBench data not found at {DATA} (it lives in ../shared/data)")
    started = time.perf_counter()
    data = read_routerbench([DATA], with_answers=True)
    n, gpt4_cost = len(data), data.mean_cost(STRONG)
    budget = budget_share * gpt4_cost
    sets = cheap_sets(data, budget)
    print(f"RouterBench: {n} rows; GPT-4 accuracy {data.mean_accuracy(STRONG):.4f} at ${gpt4_cost * 1e3:.3f}m/query;")
    print(f"budget {budget_share:.0%} of that = ${budget * 1e3:.3f}m/query; {len(sets)} sets of 1-3 cheap models")
    target = data.mean_accuracy(STRONG)
    rows: list[tuple[str, str, float, float]] = []  # (rows, router, accuracy, GPT-4's accuracy on those rows)
    oracle = oracle_report(data).points[0]
    rows.append(("in-sample", "oracle: cheapest correct model per row", oracle.accuracy, target))
    tasks = tasks_of(data)
    mix = best_within({t: [single_model_curves(r)] for t, r in tasks.items()}, budget * n) / n
    rows.append(("in-sample", "best per-task mix of the 11 models", mix, target))
    verified = {t: perfect_verifier_curves(r) for t, r in tasks.items()}
    perfect = best_within(verified, budget * n) / n
    rows.append(("in-sample", "cheap models in turn, a perfect verifier on every task, then GPT-4", perfect, target))
    for label, rows_data in (("", data), (", cheap calls free", free_cheap_calls(data))):
        for signature in ("agreement", "answers"):
            one, one_set, many, _ = pattern_bounds(rows_data, rows_data, sets, budget * n, signature)
            what = f"answer-pattern cascade ({signature}{label})"
            rows.append(("in-sample", f"{what}, one set: {short(one_set)}", one, target))
            rows.append(("in-sample", f"{what}, any sets per task, mixed", many, target))
            if not label:
                _, _, code, _ = pattern_bounds(rows_data, rows_data, sets, budget * n, signature, verified_task="mbpp")
                rows.append(("in-sample", f"{what}, any sets per task; MBPP: a perfect code verifier", code, target))
    for seed in seeds:
        train, test = data.split(0.5, seed)
        where, test_target, test_budget = (
            f"held out, seed {seed}",
            test.mean_accuracy(STRONG),
            budget_share * test.mean_cost(STRONG),
        )
        rows.append(
            (where, "kNN router (k=100)", knn_best(train, test, test_budget * len(test)) / len(test), test_target)
        )
        for signature in ("agreement", "answers"):
            one, one_set, many, many_sets = pattern_bounds(train, test, sets, test_budget * len(test), signature)
            rows.append((where, f"answer-pattern cascade ({signature}), one set: {short(one_set)}", one, test_target))
            per_task = "; ".join(f"{t}: {short(c)}" for t, c in many_sets.items())
            rows.append((where, f"answer-pattern cascade ({signature}), a set per task: {per_task}", many, test_target))
    print(f"\n{'rows':18} {'accuracy':>9} {'GPT-4':>7} {'reached':>8}  router")
    for where, name, accuracy, gpt4 in rows:
        print(f"{where:18} {accuracy:9.4f} {gpt4:7.4f} {'yes' if accuracy >= gpt4 else 'no':>8}  {name}")
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=0.3, help="share of GPT-4's cost per query")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    args = parser.parse_args()
    main(args.budget, args.seeds)
