"""What every command shares: loading the client and turning our errors into clean exits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from inferopt.config import load_config
from inferopt.errors import InferoptError

F = TypeVar("F", bound=Callable[..., Any])

EMULATOR_NOTICE = (
    "inferopt: no provider configured; using the built-in emulator (answers are emulated; "
    "see `inferopt.yaml` in the README to use a real provider)"
)

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $INFEROPT_CONFIG, then ./inferopt.yaml, else the built-in emulator).",
)


def clean_errors(func: F) -> F:
    """Show an InferoptError as one clear line and exit 1, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InferoptError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def load_checked(config_path: str | None) -> Any:
    config = load_config(config_path)
    if config.is_emulated:
        click.echo(EMULATOR_NOTICE, err=True)
    return config


def request_options(func: F) -> F:
    """The options that build each row's request (``batch run`` and ``batch plan`` share them)."""
    for option in reversed(
        (
            click.option(
                "--model", "-m", default=None, help="Model for rows that do not name one (default: the config's)."
            ),
            click.option(
                "--template", default=None, help='Prompt for {"id", "text"} rows, e.g. "Classify sentiment: {text}".'
            ),
            click.option("--system", default=None, help="System prompt added to every request."),
            click.option("--max-tokens", type=int, default=None),
            click.option("--temperature", type=float, default=None),
            click.option(
                "--concurrency", "-c", type=int, default=64, show_default=True, help="Requests in flight at most."
            ),
        )
    ):
        func = option(func)
    return func
