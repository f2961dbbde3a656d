"""Gemini's Files API on the emulator, enough for Batch mode: resumable uploads, get, list, delete, download.

An upload is two requests, as the ``google-genai`` SDK sends them: ``POST /upload/v1beta/files``
with ``X-Goog-Upload-Protocol: resumable`` and ``X-Goog-Upload-Command: start`` (the JSON body
names the file) answers an ``x-goog-upload-url``; a ``POST`` there with ``upload, finalize`` and
the bytes answers ``{"file": File}`` with ``x-goog-upload-status: final``. A batch's responses file
is stored here too (``source: GENERATED``); any file downloads with
``GET files/{id}:download?alt=media`` (also under ``/download/v1beta``). Each API key sees its own.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

from inferopt.emulator.asgi_io import Scope, header
from inferopt.emulator.batches.billing import BatchBilling
from inferopt.emulator.batches.http_io import origin, query, rfc3339
from inferopt.emulator.batches.replies import BINARY_TYPE, Reply, json_reply
from inferopt.wire import gemini

FILE_TTL_S = 48 * 3600  # Gemini keeps uploaded files for 48 hours


@dataclass(slots=True)
class GeminiFile:
    name: str  # files/{id}
    tenant: bytes
    display_name: str
    mime_type: str
    created: int  # Unix time
    data: bytes = b""
    source: str = "UPLOADED"
    expected_bytes: int | None = None
    state: str = "PROCESSING"  # ACTIVE once its bytes are in

    def resource(self, scope: Scope) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "mimeType": self.mime_type,
            "sizeBytes": str(len(self.data)),
            "createTime": rfc3339(self.created),
            "updateTime": rfc3339(self.created),
            "expirationTime": rfc3339(self.created + FILE_TTL_S),
            "sha256Hash": hashlib.sha256(self.data).hexdigest(),
            "uri": f"{origin(scope)}/v1beta/{self.name}",
            "state": self.state,
            "source": self.source,
        }
        if self.display_name:
            out["displayName"] = self.display_name
        if self.source == "GENERATED":
            out["downloadUri"] = f"{origin(scope)}/download/v1beta/{self.name}:download?alt=media"
        return out


def token_page(field: str, items: list[dict[str, Any]], scope: Scope, size: int, most: int) -> dict[str, Any]:
    """One page of a Google list (newest first): ``pageSize`` items from ``pageToken``, and the next token."""
    params = query(scope)
    start = int(params.get("pageToken") or 0) if (params.get("pageToken") or "0").isdigit() else 0
    size = max(1, min(most, int(params.get("pageSize") or size)))
    page: dict[str, Any] = {field: items[start : start + size]}
    if start + size < len(items):
        page["nextPageToken"] = str(start + size)
    return page


def google_error(status: int, message: str) -> Reply:
    return json_reply(gemini.encode_error(status, message), status)


class GeminiFiles:
    def __init__(self, instance: str, billing: BatchBilling) -> None:
        self._files: dict[str, GeminiFile] = {}
        self._serial = itertools.count(1)
        self.instance = instance
        self._billing = billing

    def add(self, tenant: bytes, display_name: str, mime_type: str, now: int, **settings: Any) -> GeminiFile:
        name = f"files/emu{self.instance}{next(self._serial):06x}"
        stored = self._files[name] = GeminiFile(name, tenant, display_name, mime_type, now, **settings)
        return stored

    def get(self, tenant: bytes, name: str) -> GeminiFile | None:
        stored = self._files.get(name)
        return stored if stored is not None and stored.tenant == tenant else None

    def session(self, scope: Scope) -> GeminiFile | None:
        """The unfinished upload an upload URL (``?upload_id=``) names, if any."""
        found = self._files.get(f"files/{query(scope).get('upload_id', '')}")
        return found if found is not None and found.state == "PROCESSING" else None

    def upload(self, tenant: bytes, scope: Scope, body: bytes, now: int) -> tuple[Reply, list[tuple[bytes, bytes]]]:
        """Both steps of a resumable upload: the reply and the ``x-goog-upload-*`` headers it carries."""
        command = (header(scope, b"x-goog-upload-command") or "").lower()
        if command == "start":
            try:
                described = (json.loads(body or b"{}") or {}).get("file") or {}
            except (ValueError, AttributeError):
                return google_error(400, "Invalid JSON payload received."), []
            mime = str(header(scope, b"x-goog-upload-header-content-type") or described.get("mimeType") or "")
            size = header(scope, b"x-goog-upload-header-content-length")
            stored = self.add(
                tenant,
                str(described.get("displayName") or ""),
                mime or "application/octet-stream",
                now,
                expected_bytes=int(size) if size and size.isdigit() else None,
            )
            url = f"{origin(scope)}/upload/v1beta/files?upload_id={stored.name[6:]}&upload_protocol=resumable"
            return Reply(200, b""), [(b"x-goog-upload-url", url.encode()), (b"x-goog-upload-status", b"active")]
        session = self.session(scope)
        if session is None or session.tenant != tenant:
            return google_error(404, f"No upload session {query(scope).get('upload_id', '')!r}."), []
        offset = int(header(scope, b"x-goog-upload-offset") or 0)
        if offset != len(session.data):
            return google_error(400, f"Upload offset {offset} does not match {len(session.data)} bytes received."), []
        session.data += body
        if "finalize" not in command:
            return Reply(200, b""), [(b"x-goog-upload-status", b"active")]
        session.state = "ACTIVE"
        self._billing.files_uploaded += 1
        return json_reply({"file": session.resource(scope)}), [(b"x-goog-upload-status", b"final")]

    def handle(self, tenant: bytes, method: str, rest: str, scope: Scope) -> Reply:
        """``GET files``, ``GET files/{id}``, ``GET files/{id}:download``, ``DELETE files/{id}``."""
        if not rest and method == "GET":
            return self._list(tenant, scope)
        name, _, verb = rest.partition(":")
        stored = self.get(tenant, f"files/{name}")
        if stored is None:
            return google_error(403, f"You do not have permission to access the File {name} or it may not exist.")
        if method == "GET" and verb == "download":
            return Reply(200, stored.data, BINARY_TYPE)
        if method == "GET" and not verb:
            return json_reply(stored.resource(scope))
        if method == "DELETE" and not verb:
            del self._files[stored.name]
            return json_reply({})
        return google_error(404, f"no route {method} files/{rest}")

    def _list(self, tenant: bytes, scope: Scope) -> Reply:
        mine = [f.resource(scope) for f in reversed(self._files.values()) if f.tenant == tenant and f.state == "ACTIVE"]
        return json_reply(token_page("files", mine, scope, 10, 100))
