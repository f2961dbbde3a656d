"""Choose a backend by URL, everywhere (config, ``--cache URL`` of ``batch run`` and ``serve``).

- ``memory://`` (optional ``?max_entries=10000&max_bytes=268435456``)
- ``sqlite:///relative/or/absolute/path.db`` (``sqlite:////abs/path.db`` also accepted)
- ``redis://host:port/db`` (optional ``?prefix=myapp:cache:``); ``rediss://`` for TLS
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from inferopt.cache.backend import CacheBackend
from inferopt.cache.memory import MemoryBackend
from inferopt.cache.policy import CachePolicy
from inferopt.cache.sqlite import SQLiteBackend
from inferopt.cache.wrapper import Cached
from inferopt.errors import ConfigError
from inferopt.types import Model

DEFAULT_URL = "sqlite:///.inferopt/cache.db"
_EXAMPLES = "memory://, sqlite:///path/to/cache.db or redis://127.0.0.1:6379/0"


def backend_from_url(url: str) -> CacheBackend:
    """The backend a URL names. Raises ConfigError with the accepted forms on a bad URL."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    scheme = parts.scheme.lower()
    try:
        if scheme == "memory":
            return MemoryBackend(
                max_entries=int(query.get("max_entries", 10_000)),
                max_bytes=int(query.get("max_bytes", 256 * 1024 * 1024)),
            )
        if scheme == "sqlite":
            path = parts.path[1:] if parts.path.startswith("/") else parts.path
            path = parts.netloc + path if parts.netloc else path
            if not path:
                raise ConfigError(f"cache URL {url!r} has no file path; use sqlite:///path/to/cache.db")
            max_entries = int(query["max_entries"]) if "max_entries" in query else None
            return SQLiteBackend(path, max_entries=max_entries)
        if scheme in ("redis", "rediss"):
            from inferopt.cache.redis import RedisBackend

            base = url.split("?", 1)[0]
            return RedisBackend(base, prefix=query.get("prefix", "inferopt:cache:"))
    except ImportError as exc:
        raise ConfigError(str(exc)) from exc
    except ValueError as exc:
        raise ConfigError(f"cache URL {url!r}: {exc}") from exc
    raise ConfigError(f"unknown cache URL {url!r}; use {_EXAMPLES}")


_POLICY_FIELDS = {f for f in CachePolicy.__dataclass_fields__}
_WRAPPER_FIELDS = {"single_flight", "wait_timeout_s"}


def cache_from_url(url: str = DEFAULT_URL, **options: Any) -> Callable[[Model], Cached]:
    """A function that wraps a Model in a ``Cached`` layer on the backend ``url`` names.

    ``options`` are :class:`CachePolicy` fields (``namespace``, ``ttl_s``, ``cache_nondeterministic``,
    ``normalise``, ...) and ``single_flight`` / ``wait_timeout_s``. This is what ``--cache URL``
    of ``batch run`` and ``serve`` calls::

        wrap = cache_from_url("redis://127.0.0.1:6379/0", namespace="tenant-a")
        model = wrap(model)
    """
    unknown = set(options) - _POLICY_FIELDS - _WRAPPER_FIELDS - {"semantic", "catalog"}
    if unknown:
        known = ", ".join(sorted(_POLICY_FIELDS | _WRAPPER_FIELDS | {"url", "semantic"}))
        raise ConfigError(f"unknown cache option(s) {sorted(unknown)}; known: {known}")
    policy_args = {k: v for k, v in options.items() if k in _POLICY_FIELDS}
    if "normalise_namespaces" in policy_args:
        policy_args["normalise_namespaces"] = frozenset(policy_args["normalise_namespaces"])
    policy = CachePolicy(**policy_args)
    wrapper_args = {k: v for k, v in options.items() if k in _WRAPPER_FIELDS}
    semantic_options = options.get("semantic")
    backend = backend_from_url(url)

    def wrap(model: Model) -> Cached:
        semantic = None
        if semantic_options:
            from inferopt.cache.semantic.cache import semantic_from_options

            semantic = semantic_from_options(semantic_options)
        return Cached(model, backend, policy, semantic=semantic, catalog=options.get("catalog"), **wrapper_args)

    return wrap


def cached_from_options(model: Model, options: Mapping[str, Any]) -> Model:
    """The ``cache:`` layer of a config stack: ``{url: ..., namespace: ..., ttl_s: ..., ...}``."""
    options = dict(options)
    url = options.pop("url", DEFAULT_URL)
    return cache_from_url(url, **options)(model)
