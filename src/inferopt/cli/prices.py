"""``inferopt prices``: look up the dated price catalog."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from inferopt.cli.common import clean_errors, config_option
from inferopt.client import catalog_for
from inferopt.config import load_config
from inferopt.pricing.catalog import CATALOG_DATE


@click.command()
@click.argument("models", nargs=-1)
@config_option
@clean_errors
def prices(models: tuple[str, ...], config_path: str | None) -> None:
    """Show USD per 1M tokens for MODELS (all catalog models if none given)."""
    catalog = catalog_for(load_config(config_path))
    names = list(models) or catalog.names()
    table = Table(title=f"Prices, USD per 1M tokens (bundled catalog {CATALOG_DATE} + your files)")
    for column in (
        "model",
        "provider",
        "input",
        "output",
        "cache read",
        "cache write 5m",
        "cache write 1h",
        "batch in",
        "batch out",
        "from",
    ):
        text = column in ("model", "provider")
        table.add_column(column, justify="left" if text else "right", no_wrap=text)

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    for name in names:
        catalog.get(name)  # an unknown name is an error naming close ones
        for p in catalog.history(name):  # a dated change shows the price it replaced on the row above
            table.add_row(
                name,
                p.provider,
                fmt(p.input),
                fmt(p.output),
                fmt(p.cache_read),
                fmt(p.cache_write_5m),
                fmt(p.cache_write_1h),
                fmt(p.batch_input),
                fmt(p.batch_output),
                p.effective_from or "-",
            )
    Console().print(table)
