"""The few ASGI primitives the emulator needs: read a body, send a response, wait for a hang-up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Header = tuple[bytes, bytes]

JSON_TYPE: Header = (b"content-type", b"application/json")
SSE_TYPE: Header = (b"content-type", b"text/event-stream; charset=utf-8")
NO_CACHE: Header = (b"cache-control", b"no-cache")


class ClientGone(Exception):
    """The client closed the connection before sending its whole request."""


async def read_body(receive: Receive) -> bytes:
    """The whole request body (one message in the common case, so no join)."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    parts = [body]
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


def header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (names in ASGI scopes are lower-case)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def send_bytes(
    send: Send, status: int, body: bytes, headers: list[Header], content_type: Header = JSON_TYPE
) -> None:
    """A complete response with a known length."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, content_type, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def start_stream(send: Send, headers: list[Header], content_type: Header = SSE_TYPE) -> None:
    """Response headers without a length: the body follows in pieces (chunked encoding)."""
    await send({"type": "http.response.start", "status": 200, "headers": [*headers, content_type, NO_CACHE]})


async def send_piece(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def end_stream(send: Send) -> None:
    await send({"type": "http.response.body", "body": b""})


async def until_disconnect(receive: Receive) -> None:
    """Return when the client hangs up (the request body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass
