"""What every wire codec shares: the parsed error detail and the codecs' own (private) failures.

Codecs do no I/O and know nothing of providers: when a payload breaks its wire's rules they raise
a :class:`WireError`; the one boundary that maps these to the public tree
(:mod:`inferopt.errors`) is :func:`inferopt.providers.base.wire_error`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """An error body's message, type and code, as the provider worded them."""

    message: str
    type: str | None
    code: str | None


class WireError(Exception):
    """A payload that does not follow its wire format (private: mapped at the provider boundary)."""


class MalformedPayload(WireError):
    """A body or stream event that is not the JSON object its wire requires."""


class StreamCut(WireError):
    """The stream ended before its final event: the connection dropped mid-answer."""


class Refused(WireError):
    """A 200 answer that refuses the request (Gemini's blocked prompt): the provider's own error,
    not a fault another attempt would fix."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class StreamErrorEvent(WireError):
    """The provider sent an error event inside a stream that had started."""

    def __init__(self, detail: ErrorDetail) -> None:
        super().__init__(detail.message)
        self.detail = detail


def json_object(data: bytes | str, what: str) -> dict[str, Any]:
    """``data`` parsed as a JSON object, or :class:`MalformedPayload` naming ``what`` it was."""
    try:
        value = json.loads(data)
    except ValueError:
        raise MalformedPayload(f"{what} is not JSON: {data[:200]!r}") from None
    if not isinstance(value, dict):
        raise MalformedPayload(f"{what} is JSON but not an object: {data[:200]!r}")
    return value


def error_detail(body: bytes | str) -> ErrorDetail:
    """The ``{"error": {...}}`` envelope both OpenAI and Anthropic use (Anthropic adds a top-level
    ``type: "error"``); anything else becomes the body itself, cut to 500 characters."""
    try:
        err = json.loads(body).get("error")
    except (ValueError, AttributeError):
        err = None
    if isinstance(err, dict):
        code = err.get("code")
        return ErrorDetail(str(err.get("message") or ""), err.get("type"), None if code is None else str(code))
    if isinstance(err, str):
        return ErrorDetail(err, None, None)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return ErrorDetail(text[:500] or "(empty body)", None, None)
