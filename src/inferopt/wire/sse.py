"""Server-sent events framing, both directions, with no I/O (the WHATWG ``text/event-stream`` rules).

Encoding: :func:`event` writes ``event: NAME`` + ``data: JSON`` (Anthropic's framing), :func:`data`
writes a bare ``data: JSON`` (OpenAI's), :data:`DONE` is OpenAI's end marker. Decoding:
:class:`Decoder` is fed lines (or raw bytes, split at any point) and returns the events they
complete: fields per line, a blank line dispatches, several ``data:`` lines join with newlines,
comment lines (``:``) are ignored, a trailing event without its blank line is returned by
:meth:`Decoder.close`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CONTENT_TYPE = "text/event-stream; charset=utf-8"
DONE = b"data: [DONE]\n\n"
# An event whose data is deliberately not JSON, so no codec can write it: the emulator's ``malformed``
# fault, which the tolerant stream decoders must skip.
MALFORMED = b"data: {this is not json\n\n"
dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def event(name: str, payload: dict[str, Any]) -> bytes:
    """One named event with a JSON payload."""
    return b"event: " + name.encode() + b"\ndata: " + dumps(payload).encode() + b"\n\n"


def data(payload: dict[str, Any]) -> bytes:
    """One unnamed event with a JSON payload."""
    return b"data: " + dumps(payload).encode() + b"\n\n"


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """``event`` is None when the event named none; ``data`` is its data lines joined."""

    event: str | None
    data: str


class Decoder:
    """A sans-I/O SSE parser: feed it what arrives, get back the events it completes."""

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []
        self._partial = b""

    def feed_line(self, line: str) -> ServerSentEvent | None:
        """One line without its line break; returns the event a blank line dispatches."""
        if not line:
            done = ServerSentEvent(self._event, "\n".join(self._data)) if self._data else None
            self._event, self._data = None, []
            return done
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Raw bytes, cut anywhere (even inside a UTF-8 sequence or a CRLF)."""
        buffer = self._partial + chunk
        lines = buffer.split(b"\n")
        self._partial = lines.pop()
        out = []
        for raw in lines:
            done = self.feed_line(raw.removesuffix(b"\r").decode("utf-8", "replace"))
            if done is not None:
                out.append(done)
        return out

    def close(self) -> list[ServerSentEvent]:
        """The end of the body: an event still open (no closing blank line) is dispatched."""
        out = []
        if self._partial:
            done = self.feed_line(self._partial.removesuffix(b"\r").decode("utf-8", "replace"))
            self._partial = b""
            if done is not None:
                out.append(done)
        last = self.feed_line("")
        return out + ([last] if last is not None else [])
