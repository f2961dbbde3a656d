"""Relaying a stream to the client as server-sent events, piece by piece, with no buffering.

Three promises, each tested against the emulator:

- Each upstream delta (text, tool-call fragment, thinking) is written to the client as soon as it
  arrives (one ASGI send each), by the dialect's codec (:mod:`inferopt.wire`).
- When the client hangs up, the upstream request is cancelled at once (even while waiting for the
  next token), which closes the upstream connection: nobody pays for tokens nobody reads.
- When the upstream fails after the stream started, the stream ends with the dialect's error event
  and without its normal ending (``[DONE]`` / ``message_stop``): the SDK raises rather than
  returning a truncated answer that looks complete. A failure *before* the first event becomes an
  ordinary HTTP error status, since no 200 has been sent yet.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from inferopt.gateway.asgi import Header, Receive, Send, end_stream, send_piece, start_stream, until_disconnect
from inferopt.gateway.problems import Problem, problem_for
from inferopt.types import ChatResponse, Delta, StreamDone, StreamEvent, TextDelta


class StreamWriter(Protocol):
    """The bytes of one dialect's stream (a wire codec's stream encoder)."""

    def start(self) -> bytes: ...
    def delta(self, delta: Delta) -> bytes: ...
    def done(self, response: ChatResponse) -> bytes: ...
    def error(self, payload: dict[str, Any]) -> bytes: ...


@dataclass(slots=True)
class StreamOutcome:
    """How a relayed stream ended: answered (``response``), refused, failed mid-way or cancelled."""

    response: ChatResponse | None = None
    started: bool = False
    cancelled: bool = False
    problem: Problem | None = None
    texts: list[str] = field(default_factory=list)

    @property
    def status(self) -> int:
        if self.cancelled:
            return 499  # nginx's code for "client closed request"
        if self.problem is not None and not self.started:
            return self.problem.status
        return 200 if self.problem is None else 502


async def _pump(
    events: AsyncGenerator[StreamEvent, None],
    writer: StreamWriter,
    send: Send,
    headers: Callable[[ChatResponse | None], list[Header]],
    refuse: Callable[[Problem], Awaitable[None]],
    outcome: StreamOutcome,
    error_payload: Callable[[Problem], dict[str, Any]],
) -> None:
    try:
        async for event in events:
            if not outcome.started:
                await start_stream(send, headers(event.response if isinstance(event, StreamDone) else None))
                await send_piece(send, writer.start())
                outcome.started = True
            if isinstance(event, StreamDone):
                outcome.response = event.response
                await send_piece(send, writer.done(event.response))
                await end_stream(send)
                return
            if isinstance(event, TextDelta):
                outcome.texts.append(event.text)
            if piece := writer.delta(event):
                await send_piece(send, piece)
        raise RuntimeError("the upstream stream ended without its final event")
    except Exception as exc:  # every failure is reported to the client, in-band once the stream started
        outcome.problem = problem_for(exc)
        if outcome.started:
            await send_piece(send, writer.error(error_payload(outcome.problem)))
            await end_stream(send)
        else:
            await refuse(outcome.problem)
    finally:
        await events.aclose()


async def relay(
    events: AsyncGenerator[StreamEvent, None],
    writer: StreamWriter,
    send: Send,
    receive: Receive,
    headers: Callable[[ChatResponse | None], list[Header]],
    refuse: Callable[[Problem], Awaitable[None]],
    error_payload: Callable[[Problem], dict[str, Any]],
) -> StreamOutcome:
    """Stream ``events`` to the client; cancel them if the client hangs up first.

    ``headers`` gives the response headers once the first event is known; ``refuse`` sends an
    error response when the upstream fails before anything was sent; ``error_payload`` words a
    failure after that in the dialect's error event.
    """
    outcome = StreamOutcome()
    pump = asyncio.ensure_future(_pump(events, writer, send, headers, refuse, outcome, error_payload))
    gone = asyncio.ensure_future(until_disconnect(receive))
    try:
        await asyncio.wait((pump, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not pump.done():
            # The client left first (or the server is stopping): cancelling the pump closes the
            # upstream generator, whose ``finally`` closes the upstream connection.
            outcome.cancelled = True
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
    if pump.done() and not pump.cancelled() and pump.exception() is not None:
        raise pump.exception()  # type: ignore[misc]
    return outcome
