"""``inferopt eval``: run an experiment file and show the trade-off it measured."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path

import click
from rich.table import Table

from inferopt.cli.common import clean_errors
from inferopt.cli.pareto import wide_console
from inferopt.errors import NoFeasibleOptionError
from inferopt.monitor.report_html import render_experiment_html
from inferopt.tradeoff import pareto_front, requirements, select
from inferopt.tradeoff.experiments import ConfigurationResult, load_experiment, run_experiment, save_results


def _results_table(results: list[ConfigurationResult], front_names: set[str], chosen: str | None) -> Table:
    table = Table(title="Configurations (latency in s, cost in USD per 1,000 requests)")
    for column in (
        "configuration",
        "p50",
        "p95",
        "wall",
        "cost/1k",
        "quality",
        "scored",
        "errors",
        "hit rate",
        "front",
    ):
        table.add_column(column, justify="left" if column == "configuration" else "right", no_wrap=True)
    for r in results:
        mark = "chosen" if r.name == chosen else ("yes" if r.name in front_names else "")
        numbers = (r.latency_p50, r.latency_p95, r.wall_s, r.cost_per_1k, r.quality)
        table.add_row(
            r.name,
            *(f"{v:.4g}" for v in numbers),
            f"{r.scored}/{r.requests}",
            str(r.errors),
            f"{r.cache_hit_rate:.0%}" if r.cache_hit_rate == r.cache_hit_rate else "-",
            mark,
            style=None if r.name in front_names else "dim",
        )
    return table


def _row(r: ConfigurationResult) -> tuple[object, ...]:
    return (
        r.name,
        r.latency_p50,
        r.latency_p95,
        r.wall_s,
        r.cost_per_1k,
        r.quality,
        r.scored,
        r.errors,
        r.cache_hit_rate,
    )


@click.command(name="eval")
@click.argument("experiment", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), help="Folder for results (default: beside the file)."
)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Write the cost-quality front as a PNG.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write an HTML report with the front.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@clean_errors
def eval_command(
    experiment: str, out_dir: str | None, plot_path: str | None, html_path: str | None, as_json: bool
) -> None:
    """Run EXPERIMENT.yaml: its dataset through each configuration, measuring latency p50/p95, cost per
    1k requests and quality; print the Pareto front and the choice under its requirements.
    Exits 1 when no configuration meets the requirements."""
    spec, folder = load_experiment(experiment)
    results = asyncio.run(run_experiment(spec, folder, source=experiment))
    # --out is relative to where the command runs; the file's own `output:` to the file's folder.
    target = Path(out_dir) if out_dir else folder / (spec.output or ".")
    full, options_csv = save_results(results, target, spec.name)
    measured = [r for r in results if r.quality == r.quality and r.cost_per_1k == r.cost_per_1k]
    options = [r.option() for r in measured]
    front = pareto_front(options) if options else []
    bounds = requirements(**spec.requirements.model_dump())
    chosen, reasons, error = None, [], None
    try:
        if options:
            recommendation = select(options, bounds)
            chosen, reasons = recommendation.chosen, recommendation.reasons
    except NoFeasibleOptionError as exc:
        error = exc
    png = None
    if (plot_path or html_path) and options:
        from inferopt.tradeoff.plots import front_png

        png = front_png(options, front, chosen, title=f"{spec.name}: measured trade-off")
        if plot_path:
            Path(plot_path).write_bytes(png)
    if html_path:
        headers = ["configuration", "p50 s", "p95 s", "wall s", "USD/1k", "quality", "scored", "errors", "hit rate"]
        rows = [_row(r) for r in results]
        page = render_experiment_html(spec.name, headers, rows, png, chosen.name if chosen else None, reasons)
        Path(html_path).write_text(page, encoding="utf-8")
    if as_json:
        click.echo(json.dumps({"results": [asdict(r) for r in results], "chosen": chosen and chosen.name}, default=str))
    else:
        console = wide_console()
        console.print(_results_table(results, {o.name for o in front}, chosen.name if chosen else None))
        if chosen is not None:
            console.print(f"[bold]Choose: {chosen.name}[/bold]")
            for reason in reasons:
                console.print(f"  - {reason}")
        unmeasured = [r.name for r in results if r not in measured]
        if unmeasured:
            console.print(f"not on the chart (no quality or cost measured): {', '.join(unmeasured)}")
        console.print(f"results: {full}\noptions for `inferopt pareto`: {options_csv}")
    if error is not None:
        raise error
