"""``inferopt route eval``: replay routers on recorded outcomes none of them was trained on.

A ``knn`` router (and any ``--answer-cascade``) is trained here on a seeded share of DATA; a saved
router file may come from any other file. Rows a router was trained on (by prompt fingerprint) are
dropped from the evaluation and counted, never refused; what remains is scored for every router
and every reference (each single model, the oracle, random mixes) on the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from inferopt.cli.common import clean_errors
from inferopt.cli.route_specs import answer_cascade_models, cascade_stages, cost_estimate_option
from inferopt.cli.route_table import summary_table
from inferopt.errors import OutcomeDataError
from inferopt.routing.answer_cascade import PatternCascade, replay_pattern_cascade
from inferopt.routing.data import Outcomes
from inferopt.routing.evaluate import RouterReport, add_metrics, evaluate, replay_agreement_cascade, routellm_apgr
from inferopt.routing.learned import KnnRouter, knob_grid, prompt_fingerprint
from inferopt.routing.outcome_files import read_outcomes
from inferopt.routing.summary import evaluation_summary


def _common_models(data: Outcomes, saved: dict[str, KnnRouter]) -> Outcomes:
    """Only the models every saved router knows (a router trained on other data may know more or fewer)."""
    common = [m for m in data.models if all(m in r.models for r in saved.values())]
    if len(common) < 2:
        names = {spec: list(r.models) for spec, r in saved.items()}
        raise OutcomeDataError(
            f"the data's models {list(data.models)} and the routers' {names} share fewer than two; "
            "train the router on data with the same models"
        )
    return data if len(common) == len(data.models) else data.with_models(common)


def _knn_curve(router: KnnRouter, rows: Outcomes) -> tuple[Any, list[float], Any]:
    p_all, c_all = router.estimate_many(rows.prompts)
    cols = [router.models.index(m) for m in rows.models]
    p, c = p_all[:, cols], c_all[:, cols]
    decide = lambda w, p=p, c=c: [int(x) for x in router.choose(p, c, w)]  # noqa: E731
    return decide, knob_grid(router, p, c), p


@click.command(name="eval")
@click.argument("data", type=click.Path(exists=True))
@click.option(
    "--router",
    "routers",
    multiple=True,
    default=("knn",),
    show_default=True,
    help="'knn' (trained here on the train split) or a saved router file (trained on any data); repeat to compare.",
)
@click.option("--k", default=100, show_default=True, help="Neighbours for a 'knn' router trained here.")
@cost_estimate_option
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
    help="An agreement cascade replayed on recorded answers: 'cheap+peer>strong' accepts cheap's answer "
    "when every peer's matches, else escalates; stages separated by '>'. Repeatable.",
)
@click.option(
    "--answer-cascade",
    "answer_cascades",
    multiple=True,
    help="A learned answer-aware cascade 'cheap1+cheap2>strong', trained on the train split, replayed on "
    "the held-out rows with every call charged. Needs recorded answers. Repeatable.",
)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Write the cost-quality PNG.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print every curve, metric and reference as JSON instead of the table."
)
@click.option(
    "--train-fraction",
    default=0.5,
    show_default=True,
    help="Share of DATA's prompts used to train what is trained here ('knn', --answer-cascade).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the train/eval split (stratified by source).")
@clean_errors
def eval_command(
    data: str, routers: tuple[str, ...], k: int, cost_estimate: str, budget: float, cascades: tuple[str, ...],
    answer_cascades: tuple[str, ...], plot_path: str | None, as_json: bool, train_fraction: float, seed: int,
) -> None:  # fmt: skip
    """Replay routers over DATA's rows that none was trained on; print a table (or JSON) and optionally a PNG."""
    outcomes = read_outcomes(data, with_answers=bool(cascades or answer_cascades))
    trains_here = "knn" in routers or bool(answer_cascades)
    train_rows, eval_rows = outcomes.split(train_fraction, seed) if trains_here else (outcomes.subset([]), outcomes)
    saved = {spec: KnnRouter.load(spec) for spec in routers if spec != "knn"}
    dropped = {}
    for spec, router in saved.items():
        seen = [i for i, p in enumerate(eval_rows.prompts) if prompt_fingerprint(p) in router.fingerprints]
        dropped[spec] = len(seen)
        if seen:
            eval_rows = eval_rows.subset([i for i in range(len(eval_rows)) if i not in set(seen)])
    if len(eval_rows) == 0:
        raise OutcomeDataError(
            f"{data}: no rows left to evaluate (trained here on {len(train_rows)}, "
            f"{sum(dropped.values())} seen by saved routers); lower --train-fraction or evaluate on another file"
        )
    eval_rows = _common_models(eval_rows, saved)
    curves: dict[str, tuple[Callable[[float], Sequence[int]], Sequence[float]]] = {}
    routellm: dict[str, list[float]] = {}
    for spec in routers:
        router = KnnRouter.fit(train_rows, k=k, cost_estimate=cost_estimate) if spec == "knn" else saved[spec]
        name = "knn" if spec == "knn" else Path(spec).stem
        decide, knobs, p = _knn_curve(router, eval_rows)
        curves[name] = (decide, knobs)
        if len(eval_rows.models) == 2:
            weak, strong = sorted(range(2), key=lambda j: eval_rows.mean_accuracy(eval_rows.models[j]))
            routellm[name] = [float(x) for x in p[:, strong] - p[:, weak]]
    reports = evaluate(eval_rows, curves, seed)
    for report in reports:
        if report.name in routellm and len(set(routellm[report.name])) > 1:
            report.metrics["apgr_routellm"] = routellm_apgr(eval_rows, routellm[report.name])[0]
    for spec in cascades:
        point, _ = replay_agreement_cascade(eval_rows, cascade_stages(spec, eval_rows))
        reports.append(RouterReport(f"cascade {spec}", [point]))
    for spec in answer_cascades:
        cheap, strong_model = answer_cascade_models(spec, eval_rows)
        label = "+".join(m.rsplit("/", 1)[-1] for m in cheap) + ">" + strong_model.rsplit("/", 1)[-1]
        report = replay_pattern_cascade(
            eval_rows, PatternCascade.fit(train_rows, cheap, strong_model), f"answer cascade {label}"
        )
        add_metrics(report, eval_rows)
        reports.append(report)
    summary = evaluation_summary(reports, eval_rows, budget)
    summary["data"] = {
        "path": data, "prompts": len(outcomes), "trained_here_on": len(train_rows),
        "train_fraction": train_fraction if trains_here else None, "seed": seed,
        "dropped_seen_in_training": dropped, "evaluated": len(eval_rows),
    }  # fmt: skip
    if as_json:
        click.echo(json.dumps(summary, indent=1))
    else:
        console = Console(width=180)
        trained = f"trained here on {len(train_rows)} (fraction {train_fraction}, seed {seed}); " if trains_here else ""
        drops = "".join(f"; {n} rows dropped: {Path(s).name} was trained on them" for s, n in dropped.items())
        where = f"evaluated on {'the other ' * trains_here}{len(eval_rows)}"
        console.print(f"{data}: {len(outcomes)} prompts; {trained}{where}{drops}")
        console.print(summary_table(summary))
    if plot_path:
        from inferopt.routing.plot import plot_cost_quality

        plot_cost_quality(reports, plot_path, title=f"{Path(data).name}: {len(eval_rows)} held-out prompts")
        if not as_json:
            click.echo(f"plot: {plot_path}")
