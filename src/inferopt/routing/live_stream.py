"""A router's live stream: the first target that starts answering is relayed delta by delta, and a
stream cut or stalled part-way is rescued on the next target (:mod:`inferopt.rescue`).

Each attempt gets ``first_token_timeout_s`` (bounded by what is left of ``deadline_s``) to send its
first event, else the next target starts; once flowing, ``stall_timeout_s`` of silence counts as a
cut. A cut stream continues on the next target by prefill or an instructed continuation; the caller
sees one stream, and the final answer's usage and cost add up every attempt (the cut ones are in
``route.attempts`` with outcome ``cut``). When the stream cannot be continued (a tool call already
half sent) or no target is left, the error ends it. With ``hedge_after_s`` the first event is raced
over two targets (:mod:`.hedge`); cool-downs are synced before each attempt (:mod:`.cooldowns`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

from inferopt.errors import AllAttemptsFailedError, ProviderError, ProviderProtocolError
from inferopt.rescue import Rescue, accepts_prefill, refuses_prefill
from inferopt.routing.attempts import (
    TargetAttempts,
    attempt_error,
    deadline_passed,
    shortest,
    stops_failover,
)
from inferopt.routing.hedge import Race, first_event_hedged, hedged_reason
from inferopt.routing.routed import RouteRecord
from inferopt.types import ChatRequest, StreamDone, StreamEvent, close_stream

# A backstop over the provider's own stall bound (which fires first and keeps the partial answer).
_STALL_MARGIN_S = 1.0


async def stream_targets(
    attempts: TargetAttempts,
    order: Sequence[str],
    request: ChatRequest,
    on_done: Callable[[str, float, bool], None],
) -> AsyncIterator[StreamEvent]:
    """Stream ``request`` over ``order`` with rescue (see the module docstring)."""
    deadlines = attempts.deadlines
    record = RouteRecord(attempts.name)
    errors: list[tuple[str, Exception]] = []
    rescue = Rescue(attempts.for_targets(request))
    no_prefill: set[str] = set()
    stall = None if deadlines.stall_timeout_s is None else deadlines.stall_timeout_s + _STALL_MARGIN_S
    began = attempts.clock()
    queue = list(order)
    while queue:
        await attempts.sync_cooldowns(queue)
        upstream: AsyncIterator[StreamEvent]
        if deadlines.hedge_after_s is not None and not rescue.started:
            race = Race(attempts, queue, rescue.request, began, record, errors, on_done)
            flight, upstream, event = await first_event_hedged(race, rescue.request)
            target, started = flight.target, flight.started
        else:
            target = queue[0]
            if attempts.skip(target, record, errors):
                queue.pop(0)
                continue
            left = attempts.remaining(began)
            if left is not None and left <= 0:
                errors.append((target, deadline_passed(deadlines, target)))
                break
            prefill = target not in no_prefill and accepts_prefill(attempts.targets.model(target))
            forwarded = rescue.continuation(prefill) if rescue.started else rescue.request
            timeout = shortest(deadlines.first_token_timeout_s, left)
            started = attempts.clock()
            upstream = attempts.targets.stream(target, forwarded)
            try:
                async with asyncio.timeout(timeout):
                    event = await anext(upstream)
            except (ProviderError, TimeoutError, StopAsyncIteration) as exc:
                await close_stream(upstream)
                error = attempt_error(exc, target, timeout, "no first token")
                if rescue.started and prefill and refuses_prefill(error):
                    no_prefill.add(target)  # the same target again, asked to continue instead
                    rescue.rescues -= 1
                    continue
                attempts.failed(target, error, started, on_done, record, errors)
                if stops_failover(error):
                    raise error from None
                queue.pop(0)
                continue
        try:
            while not isinstance(event, StreamDone):
                for delta in rescue.relay(event):
                    yield delta
                async with asyncio.timeout(stall):
                    event = await anext(upstream)
        except (ProviderError, TimeoutError, StopAsyncIteration) as exc:
            error = _cut_error(exc, target, deadlines.stall_timeout_s)
            attempts.failed(target, error, started, on_done, record, errors)
            rescue.failed(error)
            if (blocker := rescue.blocker()) is not None or stops_failover(error):
                if blocker is not None:
                    error.add_note(f"inferopt: the stream was not rescued: {blocker}")
                raise error from None
            queue.pop(0)
            continue
        finally:
            await close_stream(upstream)
        for delta in rescue.flush():
            yield delta
        attempts.breakers[target].record(True, attempts.clock())
        on_done(target, attempts.clock() - started, True)
        record.add(event.response)
        answer = rescue.finish(event.response)
        record.reason = hedged_reason(record, errors)
        if rescue.rescues:
            record.reason += f", stream rescued {rescue.rescues} time(s)"
        yield StreamDone(record.finish(answer, target))
        return
    await attempts.sync_cooldowns(order)
    raise AllAttemptsFailedError(errors)


def _cut_error(exc: BaseException, target: str, stall_s: float | None) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError):
        return attempt_error(exc, target, stall_s, "the stream stalled: no event")
    return ProviderProtocolError("the stream ended without its final event", model=target)
