"""Virtual keys in SQLite: one file shared by the gateway's workers on one machine.

``admit`` runs in one ``BEGIN IMMEDIATE`` transaction (SQLite's write lock), so the budget check
and the reservation are one atomic step even across processes. Key definitions are cached in the
process for ``lookup_ttl_s`` seconds, so a revoked key stops working everywhere within that time
(at once in the process that revoked it).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable

from inferopt.gateway.keys import (
    Reservation,
    VirtualKey,
    check_new_key,
    hash_secret,
    new_key_id,
    new_secret,
    over_budget,
    over_rate,
    window_of,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gateway_keys (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    budget_usd REAL,
    spent_usd REAL NOT NULL DEFAULT 0,
    reserved_usd REAL NOT NULL DEFAULT 0,
    rpm INTEGER,
    tpm INTEGER,
    models TEXT,
    cache_namespace TEXT,
    created_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS gateway_key_windows (
    key_id TEXT NOT NULL,
    window INTEGER NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, window)
);
"""
_COLUMNS = "id, name, budget_usd, rpm, tpm, models, cache_namespace"
_Row = tuple[str, str, float | None, int | None, int | None, str | None, str | None]


def _key(row: _Row) -> VirtualKey:
    key_id, name, budget, rpm, tpm, models, namespace = row
    return VirtualKey(
        id=key_id,
        name=name,
        budget_usd=budget,
        rpm=rpm,
        tpm=tpm,
        models=frozenset(json.loads(models)) if models is not None else None,
        cache_namespace=namespace,
    )


class SQLiteKeyStore:
    """Keys, spend and per-minute windows in a SQLite file (``":memory:"`` for one process)."""

    def __init__(self, path: str, *, lookup_ttl_s: float = 0.5, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        # isolation_level=None: we issue BEGIN ourselves, so admit controls its lock.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._ttl = lookup_ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, VirtualKey | None]] = {}

    async def lookup(self, secret: str) -> VirtualKey | None:
        digest = hash_secret(secret)
        cached = self._cache.get(digest)
        now = self._clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM gateway_keys WHERE secret_hash = ? AND revoked = 0", (digest,)
        ).fetchone()
        key = _key(row) if row else None
        self._cache[digest] = (now + self._ttl, key)
        return key

    async def admit(self, key: VirtualKey, usd: float, tokens: int, now: float) -> Reservation:
        window = window_of(now)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if key.rpm is not None or key.tpm is not None:
                row = db.execute(
                    "SELECT requests, tokens FROM gateway_key_windows WHERE key_id = ? AND window = ?", (key.id, window)
                ).fetchone()
                used_requests, used_tokens = row if row else (0, 0)
                if key.rpm is not None and used_requests + 1 > key.rpm:
                    raise over_rate(key, "requests", key.rpm, now)
                if key.tpm is not None and used_tokens + tokens > key.tpm:
                    raise over_rate(key, "tokens", key.tpm, now)
            updated = db.execute(
                "UPDATE gateway_keys SET reserved_usd = reserved_usd + ? WHERE id = ? AND "
                "(budget_usd IS NULL OR spent_usd + reserved_usd + ? <= budget_usd)",
                (usd, key.id, usd),
            ).rowcount
            if not updated:
                spent, reserved = self._spend(key.id)
                raise over_budget(key, spent, reserved, usd)
            db.execute(
                "INSERT INTO gateway_key_windows (key_id, window, requests, tokens) VALUES (?, ?, 1, ?) "
                "ON CONFLICT (key_id, window) DO UPDATE SET requests = requests + 1, tokens = tokens + excluded.tokens",
                (key.id, window, tokens),
            )
            db.execute("DELETE FROM gateway_key_windows WHERE key_id = ? AND window < ?", (key.id, window - 1))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return Reservation(key.id, usd, tokens, window)

    async def settle(self, reservation: Reservation, usd: float, tokens: int) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "UPDATE gateway_keys SET reserved_usd = MAX(0, reserved_usd - ?), spent_usd = spent_usd + ? WHERE id = ?",
            (reservation.usd, usd, reservation.key_id),
        )
        db.execute(
            "UPDATE gateway_key_windows SET tokens = MAX(0, tokens + ?) WHERE key_id = ? AND window = ?",
            (tokens - reservation.tokens, reservation.key_id, reservation.window),
        )
        db.execute("COMMIT")

    def _spend(self, key_id: str) -> tuple[float, float]:
        row = self._db.execute("SELECT spent_usd, reserved_usd FROM gateway_keys WHERE id = ?", (key_id,)).fetchone()
        return (float(row[0]), float(row[1])) if row else (0.0, 0.0)

    async def spend(self, key_id: str) -> tuple[float, float]:
        return self._spend(key_id)

    async def create(
        self,
        name: str,
        *,
        budget_usd: float | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        models: list[str] | None = None,
        cache_namespace: str | None = None,
    ) -> tuple[VirtualKey, str]:
        check_new_key(budget_usd, rpm, tpm, cache_namespace)
        secret, key_id = new_secret(), new_key_id()
        self._db.execute(
            "INSERT INTO gateway_keys (id, secret_hash, name, budget_usd, rpm, tpm, models, cache_namespace, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key_id,
                hash_secret(secret),
                name,
                budget_usd,
                rpm,
                tpm,
                json.dumps(sorted(models)) if models is not None else None,
                cache_namespace,
                time.time(),
            ),
        )
        allowed = frozenset(models) if models is not None else None
        return VirtualKey(key_id, name, budget_usd, rpm, tpm, allowed, cache_namespace), secret

    async def list_keys(self) -> list[VirtualKey]:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM gateway_keys WHERE revoked = 0 ORDER BY created_at").fetchall()
        return [_key(r) for r in rows]

    async def revoke(self, key_id: str) -> bool:
        revoked = (
            self._db.execute("UPDATE gateway_keys SET revoked = 1 WHERE id = ? AND revoked = 0", (key_id,)).rowcount > 0
        )
        self._cache.clear()
        return revoked

    async def aclose(self) -> None:
        self._db.close()
