"""Which model answers a stream, learned from its first upstream event.

A stream's response headers go out before its first token, so ``x-inferopt-model`` and the
chunks' ``model`` cannot wait for the final answer: the provider adapter reports the model id of
the first event it relays (``request.options["on_first_event"]``), and the gateway sends the
headers and opens the dialect's stream writer right after. A router therefore shows the target
that answered, not its own name; when a rescue continues the stream on another target, the headers
keep naming the first one and the final answer's ``route`` records both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inferopt.gateway.sse import StreamWriter
from inferopt.types import ChatRequest, ChatResponse, Delta, Usage

FIRST_EVENT_OPTION = "on_first_event"


class Answering:
    """Called with the answer so far at each attempt's first event; keeps the first model id and the
    prompt's usage as that event reported it (Anthropic's ``message_start``: its cache split)."""

    def __init__(self, requested: str) -> None:
        self.model = requested
        self.prompt_usage: Usage | None = None
        self._known = False

    def __call__(self, first: ChatResponse) -> None:
        if not self._known and first.model:
            self.model, self._known = first.model, True
            self.prompt_usage = first.usage if first.usage.input_tokens else None


def prompt_usage(request: ChatRequest) -> Usage | None:
    answering = request.options.get(FIRST_EVENT_OPTION)
    return answering.prompt_usage if isinstance(answering, Answering) else None


class LazyWriter:
    """A stream writer made when the stream starts, so it names the model that answered."""

    def __init__(self, make: Callable[[], StreamWriter]) -> None:
        self._make = make
        self._writer: StreamWriter | None = None

    @property
    def writer(self) -> StreamWriter:
        if self._writer is None:
            self._writer = self._make()
        return self._writer

    def start(self) -> bytes:
        return self.writer.start()

    def delta(self, delta: Delta) -> bytes:
        return self.writer.delta(delta)

    def done(self, response: ChatResponse) -> bytes:
        return self.writer.done(response)

    def error(self, payload: dict[str, Any]) -> bytes:
        return self.writer.error(payload)
