"""Plain-ASGI primitives shared by the emulator and the gateway (no framework on the hot path).

Each server adds only what differs: how it reads a body (the gateway enforces a size limit) and
which headers open an event stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Header = tuple[bytes, bytes]

JSON_TYPE: Header = (b"content-type", b"application/json")


class ClientGone(Exception):
    """The client closed the connection before sending its whole request."""


class BodyTooLarge(Exception):
    """The request body is larger than the server accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


async def read_body(receive: Receive, limit: int | None = None) -> bytes:
    """The whole request body (one message in the common case, so no join); past ``limit`` bytes it
    raises :class:`BodyTooLarge` without buffering the rest."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        piece: bytes = message.get("body", b"")
        size += len(piece)
        if limit is not None and size > limit:
            raise BodyTooLarge(limit)
        if not message.get("more_body"):
            return b"".join([*parts, piece]) if parts else piece
        parts.append(piece)


def header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (names in ASGI scopes are lower-case)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def send_bytes(
    send: Send, status: int, body: bytes, headers: list[Header] | None = None, content_type: Header = JSON_TYPE
) -> None:
    """A complete response with a known length."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*(headers or ()), content_type, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_piece(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def end_stream(send: Send) -> None:
    await send({"type": "http.response.body", "body": b""})


async def until_disconnect(receive: Receive) -> None:
    """Return when the client hangs up (the request body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass
