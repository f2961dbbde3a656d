"""``inferopt pareto``: the Pareto front and a constraint-based choice for any table of options."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from inferopt.cli.common import clean_errors
from inferopt.errors import NoFeasibleOptionError
from inferopt.tradeoff import DEFAULT_OBJECTIVES, Objective, Option, load_options, pareto_front, requirements, select
from inferopt.tradeoff.select import Recommendation


def wide_console() -> Console:
    """A console that does not squeeze tables to 80 columns when output goes to a file or a pipe."""
    return Console() if sys.stdout.isatty() else Console(width=160)


def _table(options: list[Option], front: list[Option], chosen: Option | None, objectives: list[Objective]) -> Table:
    lower = ", ".join(o.name for o in objectives if o.direction == "min") or "none"
    higher = ", ".join(o.name for o in objectives if o.direction == "max") or "none"
    table = Table(
        title=f"{len(front)} of {len(options)} options on the Pareto front",
        caption=f"lower is better: {lower}; higher is better: {higher}; dim = dominated",
    )
    table.add_column("option", no_wrap=True)
    for objective in objectives:
        table.add_column(objective.name, justify="right", no_wrap=True)
    table.add_column("front", justify="center")
    for option in options:
        mark = "chosen" if option is chosen else ("yes" if option in front else "")
        style = None if option in front else "dim"
        cells = [f"{option.value(o):g}" for o in objectives]
        table.add_row(option.name, *cells, mark, style=style)
    return table


def _as_json(front: list[Option], choice: Recommendation | None, error: str | None) -> str:
    return json.dumps(
        {
            "front": [{"name": o.name, **o.values} for o in front],
            "chosen": choice.chosen.name if choice else None,
            "reasons": choice.reasons if choice else [],
            "error": error,
        },
        indent=2,
    )


@click.command()
@click.argument("options_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--max-latency", type=float, help="Requirement: latency_p95 at most this many seconds.")
@click.option("--max-cost", type=float, help="Requirement: cost_per_1k at most this many USD per 1,000 requests.")
@click.option("--min-quality", type=float, help="Requirement: quality at least this (0..1).")
@click.option(
    "--objective",
    "objective_specs",
    multiple=True,
    help="COLUMN:min|max, repeatable (default: latency_p95:min cost_per_1k:min quality:max).",
)
@click.option("--name-column", default="name", show_default=True, help="The column that names each option.")
@click.option("--rename", multiple=True, help="FROM=TO: read column FROM as TO (e.g. p95_s=latency_p95).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Write the front as a PNG here.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@clean_errors
def pareto(
    options_file: str,
    max_latency: float | None,
    max_cost: float | None,
    min_quality: float | None,
    objective_specs: tuple[str, ...],
    name_column: str,
    rename: tuple[str, ...],
    plot_path: str | None,
    as_json: bool,
) -> None:
    """Print the Pareto front of OPTIONS_FILE (CSV or JSONL, one option per row) and the best option
    meeting the requirements, with the reasons. Exits 1 when no option meets them, naming the closest."""
    mapping = dict(item.split("=", 1) for item in rename if "=" in item)
    options = load_options(options_file, name_column=name_column, rename=mapping)
    objectives = [Objective.parse(s) for s in objective_specs] or list(DEFAULT_OBJECTIVES)
    front = pareto_front(options, objectives)
    bounds = requirements(max_latency, max_cost, min_quality)
    choice: Recommendation | None = None
    error: NoFeasibleOptionError | None = None
    try:
        choice = select(options, bounds, objectives)
    except NoFeasibleOptionError as exc:
        error = exc
    chosen = choice.chosen if choice else None
    if plot_path:
        from inferopt.tradeoff.plots import save_front_png

        save_front_png(plot_path, options, front, chosen)
    if as_json:
        click.echo(_as_json(front, choice, str(error) if error else None))
    else:
        console = wide_console()
        console.print(_table(options, front, chosen, objectives))
        if choice is not None:
            console.print(f"[bold]Choose: {choice.chosen.name}[/bold]")
            for reason in choice.reasons:
                console.print(f"  - {reason}")
        if plot_path:
            console.print(f"plot written to {plot_path}")
    if error is not None:
        raise error
