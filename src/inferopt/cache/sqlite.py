"""SQLite backend: the persistent embedded default (one file, WAL, shared by local processes).

Queries run on the event loop's thread: a keyed read is tens of microseconds, less than a hop to a
worker thread would cost. A locked database is not waited on for long (``busy_timeout_s``): the
``Cached`` wrapper then fails open and the answer comes from upstream.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from inferopt.cache.backend import StatsDeltas, namespace_of

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    value BLOB NOT NULL,
    expires_at REAL
);
CREATE INDEX IF NOT EXISTS entries_namespace ON entries(namespace);
CREATE TABLE IF NOT EXISTS stats (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (namespace, name)
);
"""


class SQLiteBackend:
    """Entries in ``path`` (created with its folder). ``max_entries`` prunes the oldest-expiring first."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_entries: int | None = None,
        busy_timeout_s: float = 0.2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.max_entries = max_entries
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), timeout=busy_timeout_s, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes, fast
        self._db.executescript(_SCHEMA)
        self._writes = 0

    async def get(self, key: str) -> bytes | None:
        row = self._db.execute("SELECT value, expires_at FROM entries WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value, expires_at = row
        if expires_at is not None and self._clock() >= expires_at:
            self._db.execute("DELETE FROM entries WHERE key = ?", (key,))
            return None
        return bytes(value)

    async def set(self, key: str, value: bytes, ttl_s: float | None) -> None:
        expires_at = None if ttl_s is None else self._clock() + ttl_s
        self._db.execute(
            "INSERT OR REPLACE INTO entries (key, namespace, value, expires_at) VALUES (?, ?, ?, ?)",
            (key, namespace_of(key), value, expires_at),
        )
        self._writes += 1
        if self.max_entries is not None and self._writes % 100 == 0:
            self._prune()

    async def delete(self, key: str) -> None:
        self._db.execute("DELETE FROM entries WHERE key = ?", (key,))

    async def clear(self, namespace: str | None = None) -> int:
        if namespace is None:
            cursor = self._db.execute("DELETE FROM entries")
            self._db.execute("DELETE FROM stats")
        else:
            cursor = self._db.execute("DELETE FROM entries WHERE namespace = ?", (namespace,))
            self._db.execute("DELETE FROM stats WHERE namespace = ?", (namespace,))
        return cursor.rowcount

    async def entry_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT namespace, COUNT(*) FROM entries GROUP BY namespace").fetchall()
        return {ns: int(n) for ns, n in rows}

    async def add_stats(self, namespace: str, deltas: StatsDeltas) -> None:
        self._db.executemany(
            "INSERT INTO stats (namespace, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT(namespace, name) DO UPDATE SET value = value + excluded.value",
            [(namespace, name, value) for name, value in deltas.items()],
        )

    async def read_stats(self) -> dict[str, StatsDeltas]:
        out: dict[str, StatsDeltas] = defaultdict(dict)
        for ns, name, value in self._db.execute("SELECT namespace, name, value FROM stats"):
            out[ns][name] = float(value)
        return dict(out)

    async def aclose(self) -> None:
        self._db.close()

    def _prune(self) -> None:
        self._db.execute("DELETE FROM entries WHERE expires_at IS NOT NULL AND expires_at <= ?", (self._clock(),))
        (count,) = self._db.execute("SELECT COUNT(*) FROM entries").fetchone()
        excess = count - (self.max_entries or count)
        if excess > 0:
            # rowid order is insertion order: the oldest entries go first.
            self._db.execute(
                "DELETE FROM entries WHERE rowid IN (SELECT rowid FROM entries ORDER BY rowid LIMIT ?)", (excess,)
            )
