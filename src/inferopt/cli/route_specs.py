"""Cascade specs of ``inferopt route``: ``cheap+peer>strong`` strings checked against the data's models."""

from __future__ import annotations

import click

from inferopt.routing.data import Outcomes
from inferopt.routing.evaluate import AgreementStage
from inferopt.routing.learned import COST_ESTIMATES

cost_estimate_option = click.option(
    "--cost-estimate",
    type=click.Choice(COST_ESTIMATES),
    default="neighbours",
    show_default=True,
    help="A kNN router's cost per prompt: its neighbours' recorded costs, or each model's mean training cost.",
)


def cascade_stages(spec: str, data: Outcomes) -> list[AgreementStage]:
    """``model+peer>next`` as agreement stages; unknown models are one clear error."""
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


def answer_cascade_models(spec: str, data: Outcomes) -> tuple[list[str], str]:
    """``cheap1+cheap2>strong`` as (cheap models, strong model)."""
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
