"""The few ASGI primitives the gateway needs: a size-limited body, JSON responses, SSE pieces.

Plain ASGI, no framework: a request passes through a dict lookup and these functions, so the
gateway adds as little as possible to each call.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from inferopt.asgi import (
    JSON_TYPE,
    BodyTooLarge,
    ClientGone,
    Header,
    Receive,
    Scope,
    Send,
    end_stream,
    header,
    read_body,
    send_bytes,
    send_piece,
    until_disconnect,
)

__all__ = [
    "JSON_TYPE",
    "SSE_HEADERS",
    "BodyTooLarge",
    "ClientGone",
    "Header",
    "Receive",
    "Scope",
    "Send",
    "content_length",
    "end_stream",
    "header",
    "query_param",
    "read_body",
    "send_bytes",
    "send_piece",
    "start_stream",
    "until_disconnect",
]

SSE_HEADERS: list[Header] = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    # Proxies such as nginx buffer responses by default; this asks them not to hold SSE back.
    (b"x-accel-buffering", b"no"),
]


def content_length(scope: Scope) -> int | None:
    value = header(scope, b"content-length")
    return int(value) if value is not None and value.isdigit() else None


def query_param(scope: Scope, name: str) -> str | None:
    """The first value of ``name`` in the request's query string (None when absent)."""
    raw = scope.get("query_string") or b""
    values = parse_qs(raw.decode("latin-1"), keep_blank_values=False).get(name) if raw else None
    return values[0] if values else None


async def start_stream(send: Send, headers: list[Header]) -> None:
    """A 200 with SSE headers and no length: the body follows in pieces (chunked encoding)."""
    await send({"type": "http.response.start", "status": 200, "headers": [*headers, *SSE_HEADERS]})
