"""OpenAI Files API, the part batches use: upload (``purpose=batch``), retrieve, content, list, delete."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from inferopt.emulator.asgi_io import Scope
from inferopt.emulator.batches.http_io import FormPart, query
from inferopt.emulator.batches.replies import BINARY_TYPE, Reply, json_reply, openai_error

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
BATCH_FILE_TTL_S = 30 * 24 * 3600  # OpenAI keeps batch files for 30 days by default


@dataclass(slots=True)
class StoredFile:
    id: str
    tenant: bytes
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def object(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "expires_at": self.created_at + BATCH_FILE_TTL_S,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


class FileStore:
    """Files of every tenant; a tenant sees only its own."""

    def __init__(self, instance: str, max_batch_bytes: int) -> None:
        self._files: dict[str, StoredFile] = {}
        self._serial = itertools.count(1)
        self.instance = instance
        self.max_batch_bytes = max_batch_bytes

    def add(self, tenant: bytes, filename: str, purpose: str, data: bytes, now: int) -> StoredFile:
        file_id = f"file-emu{self.instance}{next(self._serial):06x}"
        stored = self._files[file_id] = StoredFile(file_id, tenant, filename, purpose, data, now)
        return stored

    def get(self, tenant: bytes, file_id: str) -> StoredFile | None:
        stored = self._files.get(file_id)
        return stored if stored is not None and stored.tenant == tenant else None

    def upload(self, tenant: bytes, parts: list[FormPart], now: int) -> Reply:
        """``POST /v1/files``: a ``file`` part and a ``purpose`` field."""
        fields = {p.name: p for p in parts}
        upload, purpose_part = fields.get("file"), fields.get("purpose")
        if upload is None:
            return openai_error(400, "Missing required parameter: 'file'.", "file")
        purpose = purpose_part.data.decode("utf-8", "replace").strip() if purpose_part else ""
        if purpose not in PURPOSES:
            return openai_error(
                400, f"Invalid value for 'purpose': {purpose!r}. Expected one of {PURPOSES}.", "purpose"
            )
        filename = upload.filename or "upload"
        if purpose == "batch":
            if not filename.endswith(".jsonl"):
                return openai_error(400, "Invalid file format for Batch API. Must be .jsonl", "file")
            if len(upload.data) > self.max_batch_bytes:
                return openai_error(400, "File is too large.", "file")
        return json_reply(self.add(tenant, filename, purpose, upload.data, now).object())

    def handle(self, tenant: bytes, method: str, rest: list[str], scope: Scope) -> Reply | None:
        """``GET /files``, ``GET /files/{id}``, ``GET /files/{id}/content``, ``DELETE /files/{id}``."""
        if method == "GET" and not rest:
            purpose = query(scope).get("purpose")
            data = [
                f.object()
                for f in reversed(self._files.values())
                if f.tenant == tenant and (purpose is None or f.purpose == purpose)
            ]
            return json_reply({"object": "list", "data": data, "has_more": False})
        if not rest:
            return None
        stored = self.get(tenant, rest[0])
        if stored is None:
            return openai_error(404, f"No such File object: {rest[0]}", "id")
        if method == "GET" and len(rest) == 1:
            return json_reply(stored.object())
        if method == "GET" and rest[1:] == ["content"]:
            return Reply(200, stored.data, BINARY_TYPE)
        if method == "DELETE" and len(rest) == 1:
            del self._files[stored.id]
            return json_reply({"id": stored.id, "object": "file", "deleted": True})
        return None
