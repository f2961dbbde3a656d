"""The optimization stack: named wrappers that turn a Model into a Model.

A wrapper registers a factory under a name; a config's ``stack`` lists names with options,
outermost first::

    stack:
      - retry: {max_attempts: 4}

Wrappers shipped by inferopt register here exactly like a user's would (``register_wrapper``),
so there is one path for both. Building checks every name before anything runs, and an unknown
name is a :class:`ConfigError` listing the known ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from inferopt.errors import ConfigError
from inferopt.types import Model

WrapperFactory = Callable[[Model, Mapping[str, Any]], Model]

_WRAPPERS: dict[str, WrapperFactory] = {}


def register_wrapper(name: str, factory: WrapperFactory) -> None:
    """Make ``name`` usable in a config's ``stack``. Re-registering replaces the factory."""
    _WRAPPERS[name] = factory


def known_wrappers() -> list[str]:
    return sorted(_WRAPPERS)


def validate_stack(stack: list[dict[str, Any]], source: str | None = None) -> None:
    for i, layer in enumerate(stack):
        for name in layer:
            if name not in _WRAPPERS:
                raise ConfigError(
                    f"unknown optimization {name!r}; known: {', '.join(known_wrappers()) or 'none registered'}",
                    file=source,
                    key=f"stack[{i}]",
                )


def build_stack(model: Model, stack: list[dict[str, Any]], source: str | None = None) -> Model:
    """Wrap ``model`` in the stack's layers; the first layer ends up outermost."""
    validate_stack(stack, source)
    for layer in reversed(stack):
        ((name, options),) = layer.items()
        try:
            model = _WRAPPERS[name](model, options or {})
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad options for {name!r}: {exc}", file=source, key=f"stack.{name}") from exc
    return model


def _register_builtins() -> None:
    # Built-in wrappers register through the same function a user's would.
    from inferopt.parallel.limits import rate_limited_from_options
    from inferopt.parallel.retry import retrying_from_options

    register_wrapper("retry", retrying_from_options)
    register_wrapper("rate_limit", rate_limited_from_options)
    from inferopt.cache.prompt import prompt_cached_from_options
    from inferopt.cache.url import cached_from_options

    register_wrapper("cache", cached_from_options)
    register_wrapper("prompt_cache", prompt_cached_from_options)
    from inferopt.monitor.metered import metered_from_options

    register_wrapper("metered", metered_from_options)


_register_builtins()
