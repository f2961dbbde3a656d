"""The OpenAI- and Anthropic-compatible gateway: every optimization behind one ``base_url``.

::

    from inferopt.gateway import create_app
    app = create_app("inferopt.yaml", keys="redis://127.0.0.1:6379/0")   # any ASGI server runs it

or from the shell: ``inferopt serve --config inferopt.yaml --port 4000``.
"""

from __future__ import annotations

from inferopt.client import AsyncClient
from inferopt.config import load_config
from inferopt.conversations import conversations_at
from inferopt.gateway.app import GatewayApp
from inferopt.gateway.dialects import answer_headers
from inferopt.gateway.key_stores import open_key_store
from inferopt.gateway.keys import KeyStore, Reservation, VirtualKey
from inferopt.gateway.metrics import GatewayMetrics
from inferopt.gateway.metrics_share import shared_metrics_from_env
from inferopt.gateway.validation import RequestLimits


def create_app(
    config_path: str | None = None,
    *,
    keys: str | KeyStore | None = None,
    limits: RequestLimits | None = None,
    cache: str | None = None,
    responses: str | None = None,
) -> GatewayApp:
    """A gateway for the config at ``config_path`` (None: the usual lookup, else the emulator).

    ``keys`` is a key store or its URL (``redis://...``, a SQLite path, ``memory``); None serves
    anyone, which suits a gateway on localhost. ``cache`` is an answer-cache URL (``memory://``,
    ``sqlite:///path``, ``redis://...``) added as the outermost stack layer unless the config has one.
    ``responses`` is where stored Responses API answers live: ``memory`` (the default) or a SQLite path.
    """
    store = open_key_store(keys) if isinstance(keys, str) else keys
    config = load_config(config_path)
    if cache:
        config = config.with_layer("cache", {"url": cache})
    return GatewayApp(
        AsyncClient(config),
        keys=store,
        limits=limits,
        shared_metrics=shared_metrics_from_env(),
        conversations=conversations_at(responses),
    )


__all__ = [
    "GatewayApp",
    "GatewayMetrics",
    "KeyStore",
    "RequestLimits",
    "Reservation",
    "VirtualKey",
    "answer_headers",
    "create_app",
    "open_key_store",
]
