"""``inferopt models``: what each model accepts (the capability table), and its limits and prices."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from inferopt.capabilities import default_table
from inferopt.cli.common import clean_errors, config_option
from inferopt.client import catalog_for
from inferopt.config import load_config

COLUMNS = (
    ("temperature", "temp"),
    ("top_p", "top_p"),
    ("max_tokens_field", "max tokens field"),
    ("n", "n"),
    ("logprobs", "logprobs"),
    ("tools", "tools"),
    ("parallel_tool_calls", "parallel tools"),
    ("json_schema", "json_schema"),
    ("thinking", "thinking"),
    ("images", "images"),
    ("prompt_cache_min_tokens", "cache min"),
    ("context_window", "context"),
    ("max_output_tokens", "max output"),
)


def _cell(value: object) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "-" if value is None else str(value)


@click.command()
@click.argument("models", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per model, for scripts.")
@config_option
@clean_errors
def models(models: tuple[str, ...], as_json: bool, config_path: str | None) -> None:
    """What MODELS accept (every catalog chat model if none given): parameters, limits, cache minimum.

    A parameter a model can't take is dropped, translated or refused as the config's
    ``capabilities:`` says (docs/capabilities.md).
    """
    catalog = catalog_for(load_config(config_path))
    table = default_table(catalog)
    names = list(models) or catalog.names()
    rows = [table.get(name) for name in names]
    if as_json:
        click.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    view = Table(title="Model capabilities (bundled table 2026-11 + the price catalog's limits)")
    view.add_column("model", no_wrap=True)
    view.add_column("provider", no_wrap=True)
    for _, title in COLUMNS:
        view.add_column(title, justify="right")
    for row in rows:
        values = row.as_dict()
        view.add_row(row.model, row.provider, *(_cell(values[field]) for field, _ in COLUMNS))
    Console(width=220).print(view)
