"""OpenAI Files API, the part batches use: upload (``purpose=batch``), retrieve, content, list, delete."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from inferopt.emulator.asgi_io import Scope
from inferopt.emulator.batches.billing import BatchBilling
from inferopt.emulator.batches.http_io import FormPart, limit_param, query
from inferopt.emulator.batches.replies import BINARY_TYPE, Reply, json_reply, openai_error, page

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

    def __init__(self, instance: str, max_batch_bytes: int, billing: BatchBilling | None = None) -> None:
        self._files: dict[str, StoredFile] = {}
        self._billing = billing
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
        if self._billing is not None:
            self._billing.files_uploaded += 1
        return json_reply(self.add(tenant, filename, purpose, upload.data, now).object())

    def handle(self, tenant: bytes, method: str, rest: list[str], scope: Scope) -> Reply | None:
        """``GET /files``, ``GET /files/{id}``, ``GET /files/{id}/content``, ``DELETE /files/{id}``."""
        if method == "GET" and not rest:
            return self._list(tenant, query(scope))
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

    def _list(self, tenant: bytes, params: dict[str, str]) -> Reply:
        """``GET /files?purpose=&limit=&order=&after=``: newest first unless ``order=asc``; ``limit`` to 10,000."""
        purpose = params.get("purpose")
        files = [f for f in self._files.values() if f.tenant == tenant and purpose in (None, f.purpose)]
        if params.get("order", "desc") != "asc":
            files.reverse()
        items = [f.object() for f in files]
        data, more = page(items, params.get("after"), None, limit_param(params, 10_000, 10_000))
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return json_reply({"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": more})
