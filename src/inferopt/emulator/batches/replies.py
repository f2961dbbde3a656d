"""What a batch route hands back: a status, a body and its content type; plus error wording."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from inferopt.emulator import wire_anthropic, wire_openai
from inferopt.emulator.asgi_io import JSON_TYPE, Header
from inferopt.emulator.engine import Failure

dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
JSONL_TYPE: Header = (b"content-type", b"application/jsonl")
BINARY_TYPE: Header = (b"content-type", b"application/octet-stream")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: Header = JSON_TYPE


def json_reply(data: Any, status: int = 200) -> Reply:
    return Reply(status, dumps(data).encode())


def openai_error(status: int, message: str, param: str | None = None, code: str | None = None) -> Reply:
    """OpenAI's error envelope: ``{"error": {"message", "type", "param", "code"}}``."""
    err_type = "invalid_request_error" if status < 500 else "server_error"
    return json_reply({"error": {"message": message, "type": err_type, "param": param, "code": code}}, status)


def openai_auth_error() -> Reply:
    return Reply(401, wire_openai.error_body(Failure(401, "auth")))


def anthropic_error(status: int, err_type: str, message: str, request_id: str) -> Reply:
    """Anthropic's error envelope: ``{"type": "error", "error": {"type", "message"}, "request_id"}``."""
    return json_reply(
        {"type": "error", "error": {"type": err_type, "message": message}, "request_id": request_id}, status
    )


def anthropic_auth_error(request_id: str) -> Reply:
    return Reply(401, wire_anthropic.error_body(Failure(401, "auth"), request_id))


def page(
    items: list[dict[str, Any]], after: str | None, before: str | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of ``items`` (newest first) after/before the item with id ``after``/``before``."""
    ids = [item["id"] for item in items]
    if after is not None and after in ids:
        items = items[ids.index(after) + 1 :]
    elif before is not None and before in ids:
        items = items[max(0, ids.index(before) - limit) : ids.index(before)]
    return items[:limit], len(items) > limit
