"""Stored Responses answers: scoped per tenant, bounded in memory, shared and durable in SQLite."""

from __future__ import annotations

from pathlib import Path

from inferopt.conversations import MemoryConversations, SQLiteConversations, conversations_at

RECORD = {"response": {"id": "resp_1", "output": []}, "conversation": [{"type": "message", "role": "user"}]}


async def test_memory_keeps_the_newest_and_scopes_by_tenant() -> None:
    store = MemoryConversations(max_records=2)
    await store.put("a", "resp_1", RECORD)
    assert await store.get("b", "resp_1") is None  # another tenant does not see it
    await store.put("a", "resp_2", RECORD)
    await store.get("a", "resp_1")  # read: now the newest
    await store.put("a", "resp_3", RECORD)
    assert await store.get("a", "resp_2") is None and await store.get("a", "resp_1") == RECORD
    assert await store.delete("a", "resp_1") and not await store.delete("a", "resp_1")


async def test_sqlite_is_shared_by_two_processes_worth_of_stores_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "responses.db"
    first, second = SQLiteConversations(path), conversations_at(str(path))
    await first.put("a", "resp_1", RECORD)
    assert await second.get("a", "resp_1") == RECORD and await second.get("b", "resp_1") is None
    first.close()
    reopened = SQLiteConversations(path)
    assert await reopened.get("a", "resp_1") == RECORD
    assert await reopened.delete("a", "resp_1") and await second.get("a", "resp_1") is None
