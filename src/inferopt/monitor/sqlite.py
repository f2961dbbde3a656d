"""The embedded default sink: a SQLite file with a versioned schema.

The schema version lives in ``PRAGMA user_version``; opening a file applies every migration it
lacks, in order, in one transaction each, so records written by an older inferopt stay readable
(simonw/llm keeps its logs the same way). A file from a newer inferopt is refused with a clear
error rather than misread. WAL mode lets ``inferopt report`` read while an app writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from inferopt.errors import ConfigError
from inferopt.monitor.records import RECORD_FIELDS, RequestRecord

# Each entry upgrades the schema by one version. Never edit a shipped migration; append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE requests (
        request_id TEXT NOT NULL,
        timestamp REAL NOT NULL,
        model_requested TEXT NOT NULL,
        model_served TEXT NOT NULL DEFAULT '',
        provider TEXT NOT NULL DEFAULT '',
        latency_s REAL,
        ttft_s REAL,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cached_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL,
        saved_usd REAL NOT NULL DEFAULT 0,
        cache TEXT NOT NULL DEFAULT '',
        route TEXT NOT NULL DEFAULT '',
        retries INTEGER NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        tenant TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX requests_timestamp ON requests (timestamp);
    """,
    # v2: who called (gateway key id), streamed or not, emulated or real.
    """
    ALTER TABLE requests ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE requests ADD COLUMN streamed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE requests ADD COLUMN emulated INTEGER NOT NULL DEFAULT 0;
    """,
    # v3: parameters dropped because the target model could not take them (inferopt.capabilities);
    # "local" when the shared rate limiter was down and the process's own buckets limited the call.
    """
    ALTER TABLE requests ADD COLUMN dropped_params TEXT NOT NULL DEFAULT '';
    ALTER TABLE requests ADD COLUMN limiter TEXT NOT NULL DEFAULT '';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

_INSERT = f"INSERT INTO requests ({', '.join(RECORD_FIELDS)}) VALUES ({', '.join('?' * len(RECORD_FIELDS))})"


def migrate(connection: sqlite3.Connection, path: str = "") -> int:
    """Bring the file's schema up to :data:`SCHEMA_VERSION`; returns the version it had."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"records file has schema version {version}, newer than this inferopt knows ({SCHEMA_VERSION}); "
            "upgrade inferopt to read it",
            file=path or None,
        )
    for number in range(version, SCHEMA_VERSION):
        # executescript commits first; the BEGIN/COMMIT makes each migration all-or-nothing.
        connection.executescript(f"BEGIN; {MIGRATIONS[number]} PRAGMA user_version = {number + 1}; COMMIT;")
    return int(version)


def connect(path: str | Path) -> sqlite3.Connection:
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(file, timeout=30.0)
    connection.execute("PRAGMA journal_mode=WAL")
    migrate(connection, str(file))
    return connection


class SQLiteSink:
    """Appends records to a SQLite file. The connection is opened on the writer thread, on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._connection: sqlite3.Connection | None = None
        connect(self.path).close()  # create and migrate now, so a bad path fails at start-up

    def write(self, records: Sequence[RequestRecord]) -> None:
        if self._connection is None:
            self._connection = connect(self.path)
        rows = [tuple(getattr(r, name) for name in RECORD_FIELDS) for r in records]
        with self._connection:
            self._connection.executemany(_INSERT, rows)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def read_sqlite(path: str | Path, since: float | None = None) -> list[RequestRecord]:
    """Records from a SQLite file, oldest first; ``since`` keeps those at or after that epoch time."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError("records file not found; point at the SQLite file the Metered sink writes", file=str(file))
    connection = connect(file)
    try:
        connection.row_factory = sqlite3.Row
        query = f"SELECT {', '.join(RECORD_FIELDS)} FROM requests"
        params: tuple[float, ...] = ()
        if since is not None:
            query += " WHERE timestamp >= ?"
            params = (since,)
        rows = connection.execute(query + " ORDER BY timestamp", params).fetchall()
    finally:
        connection.close()
    return [RequestRecord.from_dict(dict(row)) for row in rows]
