"""Opening a key store from a URL: it sits above the stores it builds (``keys.py`` is below both)."""

from __future__ import annotations

from inferopt.gateway.keys import KeyStore
from inferopt.gateway.keys_sqlite import SQLiteKeyStore


def open_key_store(url: str) -> KeyStore:
    """``redis://host:port/db`` (shared by every worker), ``memory`` or a SQLite path (``sqlite:///x.db``)."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from inferopt.gateway.keys_redis import RedisKeyStore  # only with the redis extra

        return RedisKeyStore(url)
    if url in ("memory", ":memory:"):
        return SQLiteKeyStore(":memory:")
    return SQLiteKeyStore(url.removeprefix("sqlite:///").removeprefix("sqlite://"))
