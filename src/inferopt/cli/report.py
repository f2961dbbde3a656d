"""``inferopt report``: what the recorded requests say, and whether it got worse than a baseline."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import click
from rich.table import Table

from inferopt.cli.common import clean_errors
from inferopt.cli.pareto import wide_console
from inferopt.monitor import Comparison, Summary, compare, parse_since, read_records, summarize, summarize_by
from inferopt.monitor.report_html import render_html, summary_rows
from inferopt.monitor.summary import GROUPINGS

REGRESSION_EXIT_CODE = 3


def _print_tables(summary: Summary, groups: Mapping[str, Summary], by: str, comparisons: Sequence[Comparison]) -> None:
    console = wide_console()
    table = Table(title="Recorded requests")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, value in summary_rows(summary):
        table.add_row(label, value)
    console.print(table)
    if summary.per_model and not groups:
        console.print("per model: " + ", ".join(f"{m} {n}" for m, n in summary.per_model.items()))
    if summary.error_classes:
        console.print("errors: " + ", ".join(f"{e} {n}" for e, n in summary.error_classes.items()))
    if groups:
        grouped = Table(title=f"By {by}")
        for column in (by, "requests", "errors", "p50 s", "p95 s", "cost/1k $", "hit rate", "saved $"):
            grouped.add_column(column, justify="left" if column == by else "right")
        for name, s in groups.items():
            cells = (s.error_rate, s.latency_p50_s, s.latency_p95_s, s.cost_per_1k_usd, s.cache_hit_rate, s.saved_usd)
            grouped.add_row(name, str(s.requests), *(f"{v:.4g}" for v in cells))
        console.print(grouped)
    if comparisons:
        versus = Table(title="Against the baseline (95% bootstrap CI of the change)")
        for column in ("metric", "baseline", "current", "change", "CI low", "CI high", "verdict"):
            versus.add_column(column, justify="left" if column in ("metric", "verdict") else "right")
        for c in comparisons:
            style = "bold red" if c.regressed else ("green" if c.improved else None)
            numbers = (c.baseline, c.current, c.change, c.ci_low, c.ci_high)
            versus.add_row(c.metric, *(f"{v:.4g}" for v in numbers), c.verdict, style=style)
        console.print(versus)


def _json(summary: Summary, groups: Mapping[str, Summary], comparisons: Sequence[Comparison]) -> str:
    def clean(value: float) -> float | None:
        return None if value != value else value  # NaN is not JSON

    data = {
        "summary": summary.to_dict(),
        "groups": {name: s.to_dict() for name, s in groups.items()},
        "comparisons": [
            {
                "metric": c.metric,
                "baseline": clean(c.baseline),
                "current": clean(c.current),
                "change": clean(c.change),
                "ci_low": clean(c.ci_low),
                "ci_high": clean(c.ci_high),
                "regressed": c.regressed,
                "improved": c.improved,
            }
            for c in comparisons
        ],
    }
    return json.dumps(data, indent=2)


@click.command()
@click.argument("records")
@click.option("--since", help="Only requests since then: 30m, 24h, 7d, an ISO date/time or epoch seconds.")
@click.option("--by", type=click.Choice(sorted(GROUPINGS)), help="Also break the numbers down by this.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "html"]), default="table", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write the report here instead of stdout.")
@click.option(
    "--compare",
    "baseline",
    help="Baseline records (file or URL). Exits 3 if latency, cost, error rate or hit rate regressed.",
)
@click.option("--resamples", default=500, show_default=True, help="Bootstrap resamples for --compare.")
@clean_errors
def report(
    records: str,
    since: str | None,
    by: str | None,
    fmt: str,
    out: str | None,
    baseline: str | None,
    resamples: int,
) -> None:
    """Summarise the requests recorded in RECORDS (a .db/.jsonl file or sqlite:///, jsonl:/// URL):
    latency and TTFT percentiles, throughput, cost, cache hit rate and savings, errors."""
    start = parse_since(since)
    current = read_records(records, start)
    summary = summarize(current)
    groups = summarize_by(current, by) if by else {}
    comparisons = compare(read_records(baseline), current, resamples=resamples) if baseline else []
    if fmt == "table" and out is None:
        _print_tables(summary, groups, by or "", comparisons)
    else:
        text = (
            _json(summary, groups, comparisons)
            if fmt == "json"
            else render_html(current, summary, groups, by or "", comparisons)
            if fmt == "html"
            else _json(summary, groups, comparisons)
        )
        if out:
            Path(out).write_text(text, encoding="utf-8")
            click.echo(f"report written to {out}", err=True)
        else:
            click.echo(text)
    regressed = [c.metric for c in comparisons if c.regressed]
    if regressed:
        click.echo(f"regression against the baseline: {', '.join(regressed)}", err=True)
        sys.exit(REGRESSION_EXIT_CODE)
