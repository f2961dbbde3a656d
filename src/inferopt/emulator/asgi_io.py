"""The few ASGI primitives the emulator needs: read a body, send a response, wait for a hang-up."""

from __future__ import annotations

from inferopt.asgi import (
    JSON_TYPE,
    ClientGone,
    Header,
    Message,
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
    "NO_CACHE",
    "SSE_TYPE",
    "ClientGone",
    "Header",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "end_stream",
    "header",
    "read_body",
    "send_bytes",
    "send_piece",
    "start_stream",
    "until_disconnect",
]

SSE_TYPE: Header = (b"content-type", b"text/event-stream; charset=utf-8")
NO_CACHE: Header = (b"cache-control", b"no-cache")


async def start_stream(send: Send, headers: list[Header], content_type: Header = SSE_TYPE) -> None:
    """Response headers without a length: the body follows in pieces (chunked encoding)."""
    await send({"type": "http.response.start", "status": 200, "headers": [*headers, content_type, NO_CACHE]})
