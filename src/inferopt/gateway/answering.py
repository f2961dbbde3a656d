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
from inferopt.types import ChatResponse, Delta

FIRST_EVENT_OPTION = "on_first_event"


class Answering:
    """Called with the answering model's id at each attempt's first event; keeps the first."""

    def __init__(self, requested: str) -> None:
        self.model = requested
        self._known = False

    def __call__(self, model: str) -> None:
        if not self._known and model:
            self.model, self._known = model, True


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
