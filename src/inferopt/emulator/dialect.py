"""What differs between the emulator's chat routes (OpenAI chat, Responses, Anthropic, Gemini).

A :class:`ChatRoute` is the route's provider, how its bodies are parsed and its answers, streams
and errors written; :meth:`inferopt.emulator.app.EmulatorApp._chat` does the rest alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from inferopt.emulator.asgi_io import Header, Scope
from inferopt.emulator.engine import Failure, ParsedCall, Plan
from inferopt.emulator.limits import LimitDecision
from inferopt.emulator.profiles import Provider


class Writer(Protocol):
    def first(self) -> bytes: ...
    def content(self, text: str) -> bytes: ...
    def last(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class ChatRoute:
    """What differs between the routes."""

    provider: Provider
    id_prefix: str
    request_id_header: bytes
    parse: Callable[[Any, str], ParsedCall | Failure]  # (body, the caller's scope)
    api_key: Callable[[Scope], str | None]
    error_body: Callable[[Failure, str], bytes]
    limit_headers: Callable[[LimitDecision], list[Header]]
    body: Callable[[Plan, str, int], bytes]
    writer: Callable[[Plan, str, int, bool], Writer]
