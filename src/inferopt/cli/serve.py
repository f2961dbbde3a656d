"""``inferopt serve``: the OpenAI/Anthropic-compatible gateway; ``inferopt keys``: its virtual keys."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from typing import Any

import click

from inferopt.cli.common import EMULATOR_NOTICE, clean_errors, config_option

_CONFIG_ENV = "INFEROPT_GATEWAY_CONFIG"
_KEYS_ENV = "INFEROPT_GATEWAY_KEYS"
_CACHE_ENV = "INFEROPT_GATEWAY_CACHE"
_RESPONSES_ENV = "INFEROPT_GATEWAY_RESPONSES"
keys_option = click.option(
    "--keys",
    "keys_url",
    default=None,
    help="Virtual-key store: redis://127.0.0.1:6379/0 (shared by workers and replicas), a SQLite file, or "
    "'memory'. Without it the gateway serves anyone: keep it on localhost.",
)


def worker_app() -> Any:
    """The app of one worker process (``--workers N``): settings come through the environment."""
    from inferopt.gateway import create_app

    return create_app(
        os.environ.get(_CONFIG_ENV) or None,
        keys=os.environ.get(_KEYS_ENV) or None,
        cache=os.environ.get(_CACHE_ENV) or None,
        responses=os.environ.get(_RESPONSES_ENV) or None,
    )


def _uvicorn_options(host: str, port: int) -> dict[str, Any]:
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    return {
        "host": host,
        "port": port,
        "http": "httptools",
        "loop": loop,
        "lifespan": "on",
        # One log line per request would cost more than the gateway's own work at thousands of req/s.
        "access_log": False,
        "proxy_headers": False,
        "log_level": "warning",
        "backlog": 4096,
        "timeout_graceful_shutdown": 5,
        # Longer than any client's idle expiry (httpx 5 s, Node's undici 4 s): the gateway never closes a
        # keep-alive connection just as a client reuses it (a request lost to that race is a client error).
        "timeout_keep_alive": 75,
    }


@click.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=4000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@keys_option
@click.option(
    "--cache",
    "cache_url",
    default=None,
    help="Answer cache for every alias: memory://, sqlite:///path/cache.db or redis://host:port/db.",
)
@click.option(
    "--responses-store",
    "responses_store",
    default=None,
    help="Where stored Responses API answers live (previous_response_id, GET /v1/responses/{id}): "
    "'memory' (one worker's default) or a SQLite file (shared by every worker; with --workers > 1 the "
    "default is a SQLite file in a temporary folder).",
)
@clean_errors
def serve(
    config_path: str | None,
    host: str,
    port: int,
    workers: int,
    keys_url: str | None,
    cache_url: str | None,
    responses_store: str | None,
) -> None:
    """Serve every optimization behind one base_url (OpenAI and Anthropic wire formats).

    Point any OpenAI client at http://HOST:PORT/v1 or any Anthropic client at http://HOST:PORT.
    With no config the gateway fronts the built-in emulator. /metrics is Prometheus text and
    /dashboard a live page.
    """
    import uvicorn

    from inferopt.config import load_config
    from inferopt.gateway import create_app

    if keys_url in ("memory", ":memory:"):
        raise click.UsageError(
            "--keys memory would start with no keys and nothing can add any (`inferopt keys create` runs in "
            "another process); use a SQLite file (--keys keys.db) or Redis (--keys redis://127.0.0.1:6379/0)"
        )
    config = load_config(config_path)  # fail here, with a clear message, before any worker starts
    if config.is_emulated:
        click.echo(EMULATOR_NOTICE, err=True)
    auth = f"virtual keys from {keys_url}" if keys_url else "no keys required (open gateway)"
    click.echo(
        f"inferopt gateway on http://{host}:{port} (OpenAI: /v1/chat/completions, /v1/responses; "
        "Anthropic: /v1/messages; "
        f"/metrics, /dashboard; {workers} worker(s); {auth}); Ctrl-C stops it",
        err=True,
    )
    options = _uvicorn_options(host, port)
    if workers == 1:
        uvicorn.run(create_app(config_path, keys=keys_url, cache=cache_url, responses=responses_store), **options)
        return
    if config_path:
        os.environ[_CONFIG_ENV] = os.path.abspath(config_path)
    if keys_url:
        os.environ[_KEYS_ENV] = keys_url
    if cache_url:
        os.environ[_CACHE_ENV] = cache_url
    # The workers publish their counters here so that any one of them answers /metrics for all.
    from inferopt.gateway.metrics_share import METRICS_DIR_ENV

    own_folder = METRICS_DIR_ENV not in os.environ
    if own_folder:
        os.environ[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="inferopt-metrics-")
    folder = os.environ[METRICS_DIR_ENV]
    # Stored responses must be readable by whichever worker the follow-up call reaches.
    os.environ[_RESPONSES_ENV] = responses_store or os.path.join(folder, "responses.db")
    try:
        uvicorn.run("inferopt.cli.serve:worker_app", factory=True, workers=workers, **options)
    finally:
        if own_folder:
            shutil.rmtree(folder, ignore_errors=True)


@click.group()
def keys() -> None:
    """Create, list and revoke the gateway's virtual API keys."""


store_option = click.option("--store", "store_url", required=True, help="Key store: redis://..., or a SQLite file.")


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@keys.command("create")
@store_option
@click.option("--name", required=True, help="Who the key is for (shown in errors and listings).")
@click.option("--budget", "budget_usd", type=float, default=None, help="Total dollars the key may spend.")
@click.option("--rpm", type=int, default=None, help="Requests per minute.")
@click.option("--tpm", type=int, default=None, help="Tokens per minute.")
@click.option("--model", "models", multiple=True, help="A model the key may use (repeatable; default: any).")
@click.option("--cache-namespace", default=None, help="The key's own answer-cache namespace.")
@clean_errors
def create_key(
    store_url: str,
    name: str,
    budget_usd: float | None,
    rpm: int | None,
    tpm: int | None,
    models: tuple[str, ...],
    cache_namespace: str | None,
) -> None:
    """Create a key and print its secret (shown once; only its hash is stored)."""
    from inferopt.gateway.key_stores import open_key_store

    async def create() -> tuple[Any, str]:
        store = open_key_store(store_url)
        try:
            return await store.create(
                name,
                budget_usd=budget_usd,
                rpm=rpm,
                tpm=tpm,
                models=list(models) or None,
                cache_namespace=cache_namespace,
            )
        finally:
            await store.aclose()

    key, secret = _run(create())
    click.echo(f"created {key.id} ({name}); its secret, shown only now:", err=True)
    click.echo(secret)


@keys.command("list")
@store_option
@clean_errors
def list_keys(store_url: str) -> None:
    """List keys with their limits and spend."""
    from inferopt.gateway.key_stores import open_key_store

    async def rows() -> list[str]:
        store = open_key_store(store_url)
        try:
            out = []
            for key in await store.list_keys():
                spent, reserved = await store.spend(key.id)
                budget = "-" if key.budget_usd is None else f"${key.budget_usd:.4f}"
                models = ",".join(sorted(key.models)) if key.models is not None else "*"
                out.append(
                    f"{key.id}  {key.name}  spent ${spent:.6f} (in flight ${reserved:.6f}) of {budget}  "
                    f"rpm {key.rpm or '-'}  tpm {key.tpm or '-'}  models {models}  cache {key.cache_namespace or '-'}"
                )
            return out
        finally:
            await store.aclose()

    for row in _run(rows()):
        click.echo(row)


@keys.command("revoke")
@store_option
@click.argument("key_id")
@clean_errors
def revoke_key(store_url: str, key_id: str) -> None:
    """Revoke a key by its id (key_...)."""
    from inferopt.gateway.key_stores import open_key_store

    async def revoke() -> bool:
        store = open_key_store(store_url)
        try:
            return await store.revoke(key_id)
        finally:
            await store.aclose()

    if not _run(revoke()):
        raise click.ClickException(f"no key with id {key_id!r}; see `inferopt keys list --store ...`")
    click.echo(f"revoked {key_id}")
