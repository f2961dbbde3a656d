"""``n`` choices on the OpenAI chat route, from any upstream: the call fanned out ``n`` times, merged.

Anthropic, most OpenAI-compatible servers and a cascade answer one choice per call, so the gateway
asks ``n`` times through the whole stack (cache, routing, limits, budgets apply to each copy) and
merges the answers into one ``chat.completion`` whose choices are indexed 0..n-1, with the usage and
cost of every copy added up (what was paid upstream). Copy ``i`` carries ``options["choice"] = i``,
which is part of its cache key from 1 on: ``n=3`` is three different samples, copy 0 is the answer an
``n=1`` call gets, and a repeated ``n=3`` call is answered from the cache in full. A seeded call's
copy ``i`` asks with ``seed + i``, so its choices are different and still reproducible.

Streamed, the copies' deltas are interleaved as they arrive, each under its choice's index; every
choice ends with its finish chunk, then one usage chunk (when asked for) and one ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from inferopt.types import ChatRequest, ChatResponse, Delta, StreamDone, StreamEvent
from inferopt.wire import openai_chat
from inferopt.wire.openai_chat_stream import ChatStreamEncoder
from inferopt.wire.sse import dumps

CHOICE_OPTION = "choice"


def copies(request: ChatRequest, n: int) -> list[ChatRequest]:
    """``n`` copies of ``request``, copy ``i`` marked as choice ``i`` (0 is the plain request)."""
    out = [request]
    for i in range(1, n):
        # Copies of a seeded call must still be different samples, reproducibly: copy i asks with seed + i.
        seed = None if request.seed is None else request.seed + i
        out.append(dataclasses.replace(request, seed=seed, options={**request.options, CHOICE_OPTION: i}))
    return out


async def complete_all(
    complete: Callable[[ChatRequest], Awaitable[ChatResponse]], requests: list[ChatRequest]
) -> list[ChatResponse]:
    """Every copy answered, concurrently; the first failure cancels the rest and is raised."""
    tasks = [asyncio.ensure_future(complete(r)) for r in requests]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        return [task.result() for task in tasks]  # raises the first failure in order
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def merged(responses: list[ChatResponse]) -> ChatResponse:
    """The first answer with every copy's usage and cost added (records and budgets see the sum)."""
    usage = sum((r.usage for r in responses[1:]), responses[0].usage)
    costs = [r.cost_usd for r in responses if r.cost_usd is not None]
    caches = {r.cache for r in responses}
    return dataclasses.replace(
        responses[0],
        usage=usage,
        cost_usd=sum(costs) if costs else None,
        cache=caches.pop() if len(caches) == 1 else "partial",
        annotations={**responses[0].annotations, "choices": len(responses)},
    )


def completion_body(responses: list[ChatResponse]) -> bytes:
    """One ``chat.completion`` holding every copy's choice, in order, and the summed usage."""
    return dumps(openai_chat.encode_choices(responses, merged(responses).usage)).encode()


@dataclass(frozen=True, slots=True)
class ChoiceDelta:
    """A delta of choice ``index`` (only between :func:`interleave` and :class:`ChoicesWriter`)."""

    index: int
    delta: Delta
    type: str = "choice"


@dataclass(slots=True)
class FanOut:
    """The copies' final answers, filled by :func:`interleave`, read by :class:`ChoicesWriter`."""

    n: int
    answers: list[ChatResponse | None] = field(default_factory=list)


async def interleave(streams: list[AsyncGenerator[StreamEvent, None]], fan: FanOut) -> AsyncGenerator[StreamEvent]:
    """One stream of every copy's deltas as they come, then one StreamDone (the merged answer).

    The first failure of any copy ends the whole stream (the relay reports it in-band); closing
    this generator closes every copy, and so every upstream connection.
    """
    queue: asyncio.Queue[tuple[int, StreamEvent | BaseException]] = asyncio.Queue()

    async def pump(i: int, events: AsyncGenerator[StreamEvent, None]) -> None:
        try:
            async for event in events:
                await queue.put((i, event))
        except Exception as exc:
            await queue.put((i, exc))
        finally:
            await events.aclose()

    tasks = [asyncio.ensure_future(pump(i, s)) for i, s in enumerate(streams)]
    fan.answers = [None] * len(streams)
    try:
        while any(a is None for a in fan.answers):
            i, event = await queue.get()
            if isinstance(event, BaseException):
                raise event
            if isinstance(event, StreamDone):
                fan.answers[i] = event.response
            else:
                yield cast(StreamEvent, ChoiceDelta(i, event))  # the relay hands it to ChoicesWriter unread
        yield StreamDone(merged([a for a in fan.answers if a is not None]))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class ChoicesWriter:
    """The chunks of an ``n``-choice stream: one encoder per choice, one id, one ending."""

    def __init__(self, model: str, include_usage: bool, fan: FanOut) -> None:
        first = ChatStreamEncoder(model, include_usage)
        rest = [
            ChatStreamEncoder(model, include_usage, completion_id=first.id, created=first.created, choice=i)
            for i in range(1, fan.n)
        ]
        self.encoders = [first, *rest]
        self.fan = fan

    def start(self) -> bytes:
        return b"".join(e.start() for e in self.encoders)

    def delta(self, delta: Delta) -> bytes:
        event = cast(Any, delta)
        return self.encoders[event.index].delta(event.delta) if isinstance(event, ChoiceDelta) else b""

    def done(self, response: ChatResponse) -> bytes:
        answers = [a if a is not None else response for a in self.fan.answers]
        ends = b"".join(e.choice_end(a) for e, a in zip(self.encoders, answers, strict=True))
        return ends + self.encoders[0].stream_end(openai_chat.encode_usage(response.usage))

    def error(self, payload: dict[str, Any]) -> bytes:
        return self.encoders[0].error(payload)
