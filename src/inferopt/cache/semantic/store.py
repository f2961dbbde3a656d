"""Persistence of the semantic index: one SQLite file, one row per remembered question.

A row holds the context bucket, the namespace, the exact-cache key the question's answer lives
under, the question and its unit vector (float32 bytes). A process that opens the file loads every
row into its in-memory :class:`~inferopt.cache.semantic.index.VectorIndex` (one contiguous copy
per bucket), and before each lookup reads the rows other processes added since (``id >`` the last
one it saw: an index range scan, microseconds when there is nothing new). The file remembers which
embedder made its vectors; opening it with another one is an error rather than silent nonsense.
It also keeps the feedback on served hits (question, stored key, score, right or wrong), which the
false-hit bound counts in every process that opens the file and ``inferopt cache stats`` reports.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inferopt.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    question TEXT NOT NULL,
    vector BLOB NOT NULL,
    UNIQUE (bucket, key)
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    question TEXT NOT NULL,
    key TEXT NOT NULL,
    score REAL NOT NULL,
    correct INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class StoredEntry:
    row_id: int
    bucket: str
    namespace: str
    key: str
    question: str
    vector: npt.NDArray[np.float32]


@dataclass(frozen=True)
class Verdict:
    """Feedback on one served hit."""

    namespace: str
    question: str
    key: str
    score: float
    correct: bool


class SemanticStore:
    """The SQLite file behind a persistent :class:`~inferopt.cache.semantic.cache.SemanticCache`."""

    def __init__(self, path: str | Path, *, embedder: str, dim: int) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self._lock = threading.Lock()  # one connection, used from the event loop and worker threads
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._check_meta("embedder", embedder)
        self._check_meta("dim", str(dim))
        self.last_id = 0

    def _check_meta(self, name: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)", (name, value))
            (stored,) = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        if stored != value:
            raise ConfigError(
                f"the semantic index {self.path} was built with {name} {stored!r}, this cache uses {value!r}; "
                "point `index:` at another file or delete this one"
            )

    def add(self, bucket: str, namespace: str, key: str, question: str, vector: npt.NDArray[np.float32]) -> int | None:
        """Store one entry; its row id, or None when this (bucket, key) is already stored."""
        blob = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO entries (bucket, namespace, key, question, vector) VALUES (?, ?, ?, ?, ?)",
                (bucket, namespace, key, question, blob),
            )
            return cursor.lastrowid if cursor.rowcount == 1 else None

    def read_new(self) -> list[StoredEntry]:
        """Entries added (by any process) since the last call, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, bucket, namespace, key, question, vector FROM entries WHERE id > ? ORDER BY id",
                (self.last_id,),
            ).fetchall()
        if rows:
            self.last_id = rows[-1][0]
        return [
            StoredEntry(row_id, bucket, namespace, key, question, np.frombuffer(blob, dtype=np.float32))
            for row_id, bucket, namespace, key, question, blob in rows
            if len(blob) == 4 * self.dim
        ]

    def add_feedback(self, namespace: str, question: str, key: str, score: float, correct: bool) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO feedback (namespace, question, key, score, correct) VALUES (?, ?, ?, ?, ?)",
                (namespace, question, key, float(score), int(correct)),
            )

    def read_feedback(self) -> list[Verdict]:
        """Every verdict recorded in the file, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT namespace, question, key, score, correct FROM feedback ORDER BY id"
            ).fetchall()
        return [Verdict(ns, q, k, float(score), bool(ok)) for ns, q, k, score, ok in rows]

    def remove(self, row_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM entries WHERE id = ?", (row_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def feedback_in(path: str | Path) -> list[Verdict]:
    """The verdicts recorded in an index file, read without opening it as a cache (``inferopt cache stats``)."""
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "feedback" not in tables:
            return []
        rows = db.execute("SELECT namespace, question, key, score, correct FROM feedback ORDER BY id").fetchall()
    finally:
        db.close()
    return [Verdict(ns, q, k, float(score), bool(ok)) for ns, q, k, score, ok in rows]
