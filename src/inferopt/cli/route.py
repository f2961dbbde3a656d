"""``inferopt route``: train a learned router and replay routers over recorded outcomes.

``inferopt route train DATA --out router.npz`` trains on a seeded share of DATA's prompts;
``inferopt route eval DATA --router knn --router router.npz`` replays routers on rows none of them
was trained on, next to every single model, a random router and the oracle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from inferopt.cli.common import clean_errors
from inferopt.routing.answer_cascade import PatternCascade, escalate_at_for_budget, replay_pattern_cascade
from inferopt.routing.answer_cascade_file import save_pattern_cascade
from inferopt.routing.data import Outcomes
from inferopt.routing.evaluate import (
    AgreementStage,
    RouterReport,
    add_metrics,
    evaluate,
    replay_agreement_cascade,
    weak_and_strong,
)
from inferopt.routing.learned import COST_ESTIMATES, KnnRouter, knob_grid, prompt_fingerprint
from inferopt.routing.outcome_files import read_outcomes

_data_argument = click.argument("data", type=click.Path(exists=True))
_split_options = [
    click.option("--train-fraction", default=0.5, show_default=True, help="Share of prompts used for training."),
    click.option("--seed", default=0, show_default=True, help="Seed of the train/eval split (stratified by source)."),
]


def _with_split(func: Any) -> Any:
    for option in reversed(_split_options):
        func = option(func)
    return func


@click.group()
def route() -> None:
    """Learned routers and offline evaluation on recorded model outcomes."""


@route.command()
@_data_argument
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Where to save (.npz).")
@click.option("--k", default=100, show_default=True, help="Neighbours that vote.")
@click.option(
    "--cost-estimate",
    type=click.Choice(COST_ESTIMATES),
    default="neighbours",
    show_default=True,
    help="A model's cost per prompt: the neighbours' recorded costs, or its mean training cost.",
)
@click.option("--cost-weight", default=1.0, show_default=True, help="Default knob: 0 = best quality, higher = cheaper.")
@click.option(
    "--answer-cascade",
    "answer_cascade",
    default=None,
    help="Train a learned answer cascade 'cheap1+cheap2>strong' instead of a kNN router (needs recorded answers).",
)
@click.option(
    "--budget",
    default=0.3,
    show_default=True,
    help="With --answer-cascade: its default knob is the most accurate on the train split within this share of "
    "the strong model's cost.",
)
@_with_split
@clean_errors
def train(
    data: str,
    out_path: str,
    k: int,
    cost_estimate: str,
    cost_weight: float,
    answer_cascade: str | None,
    budget: float,
    train_fraction: float,
    seed: int,
) -> None:
    """Train a kNN router (or an answer cascade) on a seeded share of DATA (RouterBench, RouteLLM MMLU or MT-Bench)."""
    outcomes = read_outcomes(data, with_answers=answer_cascade is not None)
    train_rows, eval_rows = outcomes.split(train_fraction, seed)
    if answer_cascade is not None:
        cheap, strong = _answer_cascade_models(answer_cascade, outcomes)
        cascade = PatternCascade.fit(train_rows, cheap, strong)
        knob = escalate_at_for_budget(train_rows, cascade, budget)
        save_pattern_cascade(cascade, out_path, knob)
        held_out = next(p for p in replay_pattern_cascade(eval_rows, cascade).points if p.knob == knob)
        click.echo(
            f"answer cascade at escalate_at={knob:.4g}: held out, accuracy {held_out.accuracy:.3f} "
            f"(strong model {eval_rows.mean_accuracy(strong):.3f}) at "
            f"{held_out.cost_per_query / eval_rows.mean_cost(strong):.1%} of its cost"
        )
    else:
        router = KnnRouter.fit(train_rows, k=k, cost_weight=cost_weight, cost_estimate=cost_estimate)
        router.save(out_path)
    click.echo(
        f"trained on {len(train_rows)} of {len(outcomes)} prompts (fraction {train_fraction}, seed {seed}); "
        f"{len(eval_rows)} held out; saved {out_path}"
    )


@route.command(name="eval")
@_data_argument
@click.option(
    "--router",
    "routers",
    multiple=True,
    default=("knn",),
    show_default=True,
    help="'knn' (trained here on the train split) or a saved router file; repeat to compare.",
)
@click.option("--k", default=100, show_default=True, help="Neighbours for a 'knn' router trained here.")
@click.option(
    "--cost-estimate",
    type=click.Choice(COST_ESTIMATES),
    default="neighbours",
    show_default=True,
    help="For a 'knn' router trained here: the neighbours' recorded costs, or each model's mean cost.",
)
@click.option(
    "--budget",
    default=0.3,
    show_default=True,
    help="Report each curve's best point within this share of the strongest model's cost per query.",
)
@click.option(
    "--cascade",
    "cascades",
    multiple=True,
    help="An agreement cascade replayed on recorded answers (RouterBench): 'cheap+peer>strong' accepts "
    "cheap's answer when every peer's matches, else escalates; stages separated by '>'. Repeatable.",
)
@click.option(
    "--answer-cascade",
    "answer_cascades",
    multiple=True,
    help="A learned answer-aware cascade: 'cheap1+cheap2>strong' calls every cheap model, learns on the train "
    "split which answer-agreement patterns (per task) to accept and which to escalate; its curve is replayed on "
    "the held-out rows, every call charged. Needs recorded answers (RouterBench, MT-Bench). Repeatable.",
)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Write the cost-quality PNG.")
@_with_split
@clean_errors
def eval_command(
    data: str,
    routers: tuple[str, ...],
    k: int,
    cost_estimate: str,
    budget: float,
    cascades: tuple[str, ...],
    answer_cascades: tuple[str, ...],
    plot_path: str | None,
    train_fraction: float,
    seed: int,
) -> None:
    """Replay routers over DATA's held-out rows; print a table and optionally a PNG."""
    outcomes = read_outcomes(data, with_answers=bool(cascades or answer_cascades))
    train_rows, eval_rows = outcomes.split(train_fraction, seed)
    curves: dict[str, Any] = {}
    for spec in routers:
        router = KnnRouter.fit(train_rows, k=k, cost_estimate=cost_estimate) if spec == "knn" else KnnRouter.load(spec)
        rows = _unseen_rows(eval_rows, router) if spec != "knn" else eval_rows
        if rows is not eval_rows:
            raise click.ClickException(
                f"{spec}: {len(eval_rows) - len(rows)} eval rows were in its training data; evaluate it with the "
                "--train-fraction and --seed it was trained with"
            )
        if router.models != outcomes.models:
            raise click.ClickException(
                f"{spec}: trained for models {list(router.models)}, data has {list(outcomes.models)}"
            )
        p_correct, cost = router.estimate_many(eval_rows.prompts)
        name = "knn" if spec == "knn" else Path(spec).stem
        curves[name] = (
            (lambda w, r=router, p=p_correct, c=cost: [int(x) for x in r.choose(p, c, w)]),
            knob_grid(router, p_correct, cost),
        )
    reports = evaluate(eval_rows, curves, seed)
    for spec in cascades:
        point, _ = replay_agreement_cascade(eval_rows, _cascade_stages(spec, eval_rows))
        reports.append(RouterReport(f"cascade {spec}", [point]))
    for spec in answer_cascades:
        cheap, strong = _answer_cascade_models(spec, eval_rows)
        label = "+".join(m.rsplit("/", 1)[-1] for m in cheap) + ">" + strong.rsplit("/", 1)[-1]
        cascade = PatternCascade.fit(train_rows, cheap, strong)
        report = replay_pattern_cascade(eval_rows, cascade, f"answer cascade {label}")
        add_metrics(report, eval_rows)
        reports.append(report)
    console = Console(width=160)
    console.print(
        f"{data}: {len(outcomes)} prompts; trained on {len(train_rows)} (fraction {train_fraction}, seed {seed}), "
        f"evaluated on the other {len(eval_rows)}"
    )
    console.print(_table(reports, eval_rows, budget))
    if plot_path:
        from inferopt.routing.plot import plot_cost_quality

        plot_cost_quality(reports, plot_path, title=f"{Path(data).name}: {len(eval_rows)} held-out prompts")
        console.print(f"plot: {plot_path}")


def _cascade_stages(spec: str, data: Outcomes) -> list[AgreementStage]:
    stages = []
    for part in spec.split(">"):
        model, *peers = [name.strip() for name in part.split("+")]
        unknown = [m for m in (model, *peers) if m not in data.models]
        if unknown:
            raise click.ClickException(
                f"--cascade {spec!r}: unknown models {unknown}; the data has {list(data.models)}"
            )
        stages.append(AgreementStage(model, tuple(peers)))
    return stages


def _answer_cascade_models(spec: str, data: Outcomes) -> tuple[list[str], str]:
    cheap_part, _, strong = spec.partition(">")
    cheap = [name.strip() for name in cheap_part.split("+") if name.strip()]
    unknown = [m for m in (*cheap, strong.strip()) if m not in data.models]
    if not cheap or not strong.strip() or ">" in strong or unknown:
        raise click.ClickException(
            f"--answer-cascade {spec!r}: expected 'cheap1+cheap2>strong' with models of the data"
            + (f"; unknown models {unknown}" if unknown else "")
            + f"; the data has {list(data.models)}"
        )
    return cheap, strong.strip()


def _unseen_rows(rows: Outcomes, router: KnnRouter) -> Outcomes:
    keep = [i for i, p in enumerate(rows.prompts) if prompt_fingerprint(p) not in router.fingerprints]
    return rows if len(keep) == len(rows) else rows.subset(keep)


def _table(reports: list[RouterReport], data: Outcomes, budget: float) -> Table:
    _, strong = weak_and_strong(data)
    strong_cost = data.mean_cost(data.models[strong])
    two = len(data.models) == 2
    table = Table(title=f"operating point: the best within {budget:.0%} of {data.models[strong]}'s cost per query")
    for column in ("router", "accuracy", "cost/query", "vs strongest", "calls (top 3)", "AIQ"):
        table.add_column(column, justify="left" if column in ("router", "calls (top 3)") else "right")
    if two:
        for column in ("APGR", "CPT(50%)", "CPT(80%)"):
            table.add_column(column, justify="right")
    for report in reports:
        point = report.best_within(budget * strong_cost) if len(report.points) > 1 else report.points[0]
        cells = [report.name]
        if point is None:
            cells += ["-", "-", "-", "none within budget"]
        else:
            shares = sorted(point.call_share.items(), key=lambda kv: -kv[1])[:3]
            cells += [
                f"{point.accuracy:.3f}",
                f"${point.cost_per_query:.6f}",
                f"{point.cost_per_query / strong_cost:.1%}",
                ", ".join(f"{m.rsplit('/', 1)[-1]} {s:.0%}" for m, s in shares if s > 0),
            ]
        metrics = ("aiq", "apgr", "cpt50", "cpt80") if two else ("aiq",)
        cells += [f"{report.metrics[m]:.3f}" if m in report.metrics else "-" for m in metrics]
        table.add_row(*cells)
    return table
