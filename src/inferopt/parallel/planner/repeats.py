"""Repeated rows of a planned run, on disk: which row first asked each request, and its answer.

A row asking exactly what an earlier row asks (the same request key) is never sent: it is written
with its first copy's answer, as a cache hit at $0. Knowing which request keys came before takes
one entry per distinct row, too many for memory on a million-row job, so they live in a private
temporary SQLite database (``sqlite3.connect("")``: on disk, removed when closed). So do the answers
of first copies that are repeated, and the copies read before their first copy was answered. An
answer an earlier run of the job recorded counts as a first copy too (``seed``), so a rerun never
sends a row whose request an earlier run already paid for.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE firsts (request_key TEXT PRIMARY KEY, idx INTEGER NOT NULL, record TEXT) WITHOUT ROWID;
CREATE TABLE waiting (request_key TEXT NOT NULL, idx INTEGER NOT NULL, id TEXT NOT NULL, row_key TEXT NOT NULL);
CREATE INDEX waiting_by_key ON waiting (request_key);
"""

Copy = tuple[int, str, str]  # a copy's index, id and row key


class Repeats:
    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._db.execute("BEGIN")  # one transaction for the run: nothing here outlives it

    def seed(self, records: Iterable[dict[str, Any]]) -> None:
        """Answers earlier runs recorded: a row of this run asking what one of them asked is its copy."""
        self._db.executemany(
            "INSERT OR IGNORE INTO firsts VALUES (?, -1, ?)",
            ((r["request_key"], json.dumps(r)) for r in records if r.get("status") == "ok" and r.get("request_key")),
        )

    def first_of(self, request_key: str, index: int) -> int | None:
        """The index of the earlier row that asked ``request_key`` (-1: answered by an earlier run); None (and
        recorded) when this is the first."""
        added = self._db.execute("INSERT OR IGNORE INTO firsts VALUES (?, ?, NULL)", (request_key, index))
        if added.rowcount:
            return None
        found = self._db.execute("SELECT idx FROM firsts WHERE request_key = ?", (request_key,)).fetchone()
        return int(found[0])

    def answered(self, request_key: str, record: dict[str, Any]) -> list[Copy]:
        """Keep a repeated row's record for its later copies; the copies that were waiting for it."""
        self._db.execute("UPDATE firsts SET record = ? WHERE request_key = ?", (json.dumps(record), request_key))
        waiting = self._db.execute("SELECT idx, id, row_key FROM waiting WHERE request_key = ?", (request_key,))
        copies = [(int(i), str(row_id), str(key)) for i, row_id, key in waiting.fetchall()]
        if copies:
            self._db.execute("DELETE FROM waiting WHERE request_key = ?", (request_key,))
        return copies

    def answer_of(self, request_key: str) -> dict[str, Any] | None:
        """The first copy's record, once it has one."""
        found = self._db.execute("SELECT record FROM firsts WHERE request_key = ?", (request_key,)).fetchone()
        return json.loads(found[0]) if found and found[0] is not None else None

    def wait(self, request_key: str, copy: Copy) -> None:
        """A copy read before its first copy was answered: it is written when that answer comes."""
        self._db.execute("INSERT INTO waiting VALUES (?, ?, ?, ?)", (request_key, *copy))

    def close(self) -> None:
        self._db.close()
