"""Stored Responses API answers: what ``GET /v1/responses/{id}``, ``DELETE`` and
``previous_response_id`` read, for the gateway (whatever its upstream keeps) and the emulator.

A record is the response object as the caller received it plus ``conversation``: the input items
the call answered (its own input after the history it continued), so a follow-up call rebuilds the
whole conversation from one id. Records are scoped: a tenant (a gateway key, or its cache
namespace) reads and deletes only its own, and an id from another scope is simply not found.

:class:`MemoryConversations` keeps the newest ``max_records`` in this process;
:class:`SQLiteConversations` keeps them in a file (across restarts, and for every gateway process
on the host).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

Record = dict[str, Any]


class Conversations(Protocol):
    async def get(self, scope: str, response_id: str) -> Record | None: ...
    async def put(self, scope: str, response_id: str, record: Record) -> None: ...
    async def delete(self, scope: str, response_id: str) -> bool: ...


class MemoryConversations:
    """The newest ``max_records`` records in this process (the oldest are forgotten first)."""

    def __init__(self, max_records: int = 10_000) -> None:
        self.max_records = max_records
        self._records: OrderedDict[tuple[str, str], Record] = OrderedDict()

    def peek(self, scope: str, response_id: str) -> Record | None:
        record = self._records.get((scope, response_id))
        if record is not None:
            self._records.move_to_end((scope, response_id))
        return record

    def keep(self, scope: str, response_id: str, record: Record) -> None:
        self._records[(scope, response_id)] = record
        self._records.move_to_end((scope, response_id))
        while len(self._records) > self.max_records:
            self._records.popitem(last=False)

    def forget(self, scope: str, response_id: str) -> bool:
        return self._records.pop((scope, response_id), None) is not None

    async def get(self, scope: str, response_id: str) -> Record | None:
        return self.peek(scope, response_id)

    async def put(self, scope: str, response_id: str, record: Record) -> None:
        self.keep(scope, response_id, record)

    async def delete(self, scope: str, response_id: str) -> bool:
        return self.forget(scope, response_id)


class SQLiteConversations:
    """Records in a SQLite file (WAL, so several gateway processes can share it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (scope TEXT, id TEXT, record TEXT, PRIMARY KEY (scope, id))"
        )
        self._lock = asyncio.Lock()

    async def _run(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        async with self._lock:
            return await asyncio.to_thread(self._db.execute, sql, args)

    async def get(self, scope: str, response_id: str) -> Record | None:
        row = (await self._run("SELECT record FROM responses WHERE scope=? AND id=?", (scope, response_id))).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    async def put(self, scope: str, response_id: str, record: Record) -> None:
        text = json.dumps(record, separators=(",", ":"))
        await self._run("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", (scope, response_id, text))

    async def delete(self, scope: str, response_id: str) -> bool:
        cursor = await self._run("DELETE FROM responses WHERE scope=? AND id=?", (scope, response_id))
        return cursor.rowcount > 0

    def close(self) -> None:
        self._db.close()


def conversations_at(where: str | None) -> Conversations:
    """``None`` or ``"memory"``: in this process; anything else: a SQLite file at that path."""
    if where in (None, "", "memory"):
        return MemoryConversations()
    return SQLiteConversations(str(where).removeprefix("sqlite:"))
