"""``inferopt route``: train a learned router and replay routers over recorded outcomes.

``inferopt route train DATA --out router.npz`` trains on a seeded share of DATA's prompts;
``inferopt route eval DATA --router knn --router router.npz`` replays routers on rows none of them
was trained on, next to every single model, a random router and the oracle.
"""

from __future__ import annotations

from typing import Any

import click

from inferopt.cli.common import clean_errors
from inferopt.cli.route_eval import eval_command
from inferopt.cli.route_specs import answer_cascade_models, cost_estimate_option
from inferopt.routing.answer_cascade import PatternCascade, escalate_at_for_budget, replay_pattern_cascade
from inferopt.routing.answer_cascade_file import save_pattern_cascade
from inferopt.routing.learned import KnnRouter
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
@cost_estimate_option
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
    """Train a kNN router (or an answer cascade) on a seeded share of DATA (any format `route eval` reads;
    --train-fraction 1.0 trains on every row, to evaluate on another file)."""
    outcomes = read_outcomes(data, with_answers=answer_cascade is not None)
    train_rows, eval_rows = outcomes.split(train_fraction, seed)
    if answer_cascade is not None:
        cheap, strong = answer_cascade_models(answer_cascade, outcomes)
        cascade = PatternCascade.fit(train_rows, cheap, strong)
        knob = escalate_at_for_budget(train_rows, cascade, budget)
        save_pattern_cascade(cascade, out_path, knob)
        if len(eval_rows) == 0:
            click.echo(
                f"answer cascade at escalate_at={knob:.4g}: nothing held out (--train-fraction {train_fraction})"
            )
        else:
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


route.add_command(eval_command)
