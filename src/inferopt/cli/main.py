"""``inferopt``: the command group every subcommand hangs from."""

from __future__ import annotations

import click

from inferopt import __version__
from inferopt.cli.ask import ask
from inferopt.cli.batch import batch
from inferopt.cli.cache import cache
from inferopt.cli.cache_distill import distill
from inferopt.cli.emulate import emulate
from inferopt.cli.eval import eval_command
from inferopt.cli.models import models
from inferopt.cli.pareto import pareto
from inferopt.cli.prices import prices
from inferopt.cli.report import report
from inferopt.cli.route import route
from inferopt.cli.serve import keys, serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="inferopt")
def cli() -> None:
    """Make LLM applications fast, cheap and measurable.

    With no config (--config, $INFEROPT_CONFIG or ./inferopt.yaml) every command runs against the
    built-in emulator, so everything works with no API key and no network.
    """


cli.add_command(ask)
cli.add_command(batch)
cli.add_command(cache)
cache.add_command(distill)
cli.add_command(emulate)
cli.add_command(prices)
cli.add_command(models)
cli.add_command(pareto)
cli.add_command(report)
cli.add_command(eval_command)
cli.add_command(route)
cli.add_command(serve)
cli.add_command(keys)


def main() -> None:
    cli()
