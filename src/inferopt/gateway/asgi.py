"""The few ASGI primitives the gateway needs: a size-limited body, JSON responses, SSE pieces.

Plain ASGI, no framework: a request passes through a dict lookup and these functions, so the
gateway adds as little as possible to each call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Header = tuple[bytes, bytes]

JSON_TYPE: Header = (b"content-type", b"application/json")
SSE_HEADERS: list[Header] = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    # Proxies such as nginx buffer responses by default; this asks them not to hold SSE back.
    (b"x-accel-buffering", b"no"),
]


class ClientGone(Exception):
    """The client hung up before its whole request arrived."""


class BodyTooLarge(Exception):
    """The request body is larger than the gateway accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing more than ``limit`` bytes (without buffering past it)."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone
    body: bytes = message.get("body", b"")
    if len(body) > limit:
        raise BodyTooLarge(limit)
    if not message.get("more_body"):
        return body
    parts, size = [body], len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        piece = message.get("body", b"")
        size += len(piece)
        if size > limit:
            raise BodyTooLarge(limit)
        parts.append(piece)
        if not message.get("more_body"):
            return b"".join(parts)


def header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (ASGI gives names in lower case)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def content_length(scope: Scope) -> int | None:
    value = header(scope, b"content-length")
    return int(value) if value is not None and value.isdigit() else None


async def send_bytes(
    send: Send, status: int, body: bytes, headers: list[Header] | None = None, content_type: Header = JSON_TYPE
) -> None:
    """A complete response of known length."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*(headers or ()), content_type, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def start_stream(send: Send, headers: list[Header]) -> None:
    """A 200 with SSE headers and no length: the body follows in pieces (chunked encoding)."""
    await send({"type": "http.response.start", "status": 200, "headers": [*headers, *SSE_HEADERS]})


async def send_piece(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def end_stream(send: Send) -> None:
    await send({"type": "http.response.body", "body": b""})


async def until_disconnect(receive: Receive) -> None:
    """Return when the client hangs up (call after the request body has been read)."""
    while (await receive())["type"] != "http.disconnect":
        pass
