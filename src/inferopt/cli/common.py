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
