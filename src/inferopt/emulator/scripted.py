"""Faults scripted per request: the ``x-emulator-fault`` header, so a test decides what fails and when.

The header holds steps separated by commas; the n-th request carrying the same header value gets
the n-th step, and the last step repeats (``429:7*2,ok``: two 429s with ``Retry-After: 7``, then
answers). A step is ``kind[:argument][*count]``:

==================  ==========================================================================
``ok``              answer normally
``429[:S]``         429 rate limited; with ``S``, ``Retry-After: S`` (and ``retry-after-ms``)
``500`` ``503``     a server error with that status (``529``: Anthropic's ``overloaded_error``)
``content_filter``  400: the provider's content-policy refusal (not retryable)
``no_prefill``      400 when the request ends with an assistant message (a target without prefill)
``hang``            no answer at all until the client gives up
``reset``           the connection closed with no response (what a reset or a crashed upstream does)
``slow:S``          the first token (an unstreamed answer: the whole answer) S seconds late
``drop[:F]``        the connection closed after fraction F of the chunks (default 0.5)
``stall[:F]``       after fraction F of the chunks, silence until the client gives up
``error_event[:F]`` after fraction F, the wire's in-band error event (``overloaded``), then the end
``malformed[:F]``   one unparseable event after fraction F; the stream then goes on
``no_done``         everything but the final marker (OpenAI ``[DONE]``, Anthropic ``message_stop``)
==================  ==========================================================================

An unstreamed answer plays ``drop:F`` and ``stall:F`` on its body (fraction F of it, then the
connection closes, or silence) and ``malformed`` as a body cut in half; ``error_event`` and
``no_done`` leave it whole. The faults an emulator draws at random (:class:`FaultConfig`) are played
as the same steps (:func:`drawn_step`).

A header the emulator cannot read is answered 400 naming the step and the kinds it knows.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferopt.emulator.config import FaultConfig
from inferopt.emulator.draws import FaultKind
from inferopt.emulator.engine import Failure, ParsedCall
from inferopt.emulator.limits import LimitDecision
from inferopt.wire import anthropic_messages, openai_chat
from inferopt.wire.sse import DONE, data, event

FAULT_HEADER = b"x-emulator-fault"
_STATUS_KINDS = {"429", "500", "502", "503", "529", "content_filter", "no_prefill"}
_STREAM_KINDS = {"ok", "hang", "reset", "slow", "drop", "stall", "error_event", "malformed", "no_done"}
KINDS = tuple(sorted(_STATUS_KINDS | _STREAM_KINDS))


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted outcome; ``arg`` is the step's number (seconds or a fraction), when it has one."""

    kind: str = "ok"
    arg: float | None = None

    @property
    def fraction(self) -> float:
        return 0.5 if self.arg is None else self.arg

    @property
    def fails_before_answer(self) -> bool:
        return self.kind in _STATUS_KINDS


NO_FAULT = Step()


def parse_script(value: str) -> list[Step]:
    """The steps of a header value; ValueError names the step it cannot read."""
    steps: list[Step] = []
    for raw in value.split(","):
        text = raw.strip()
        if not text:
            continue
        text, _, count = text.partition("*")
        kind, _, arg = text.partition(":")
        if kind not in KINDS:
            raise ValueError(f"unknown fault step {raw.strip()!r}; known kinds: {', '.join(KINDS)}")
        try:
            step = Step(kind, float(arg) if arg else None)
            steps += [step] * (int(count) if count else 1)
        except ValueError:
            raise ValueError(f"fault step {raw.strip()!r}: its argument and count must be numbers") from None
    return steps or [NO_FAULT]


class FaultScripts:
    """How far each header value's script has got (per emulator)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def next(self, value: str) -> Step:
        steps = parse_script(value)
        n = self._seen.get(value, 0)
        self._seen[value] = n + 1
        return steps[min(n, len(steps) - 1)]


def drawn_step(fault: FaultKind, faults: FaultConfig) -> Step:
    """The step that plays a fault drawn at random (a drop or stall after ``drop_after_fraction``)."""
    if fault == "hang":
        return Step("hang")
    if fault in ("drop", "stall"):
        return Step(fault, faults.drop_after_fraction)
    return NO_FAULT


def rate_limit_decision(step: Step) -> LimitDecision | None:
    """The limit state a scripted 429 reports: a ``Retry-After`` only when the step gave one."""
    return None if step.arg is None else LimitDecision(allowed=False, exceeded="burst", retry_after_s=step.arg)


def scripted_failure(step: Step, call: ParsedCall) -> Failure | None:
    """The error answer of a step that fails before answering (``no_prefill`` passes a user-final request)."""
    if step.kind == "content_filter":
        return Failure(400, "content_filter", model=call.model)
    if step.kind == "no_prefill":
        ends_with_assistant = call.request is not None and call.request.messages[-1].role == "assistant"
        return Failure(400, "no_prefill", model=call.model) if ends_with_assistant else None
    return status_failure(step, call.model)


def status_failure(step: Step, model: str) -> Failure:
    """A ``429:S`` or a 5xx step as its error answer (the steps that make sense for any endpoint)."""
    if step.kind == "429":
        return Failure(429, "rate_limited", model=model, decision=rate_limit_decision(step))
    return Failure(int(step.kind), "server_error", model=model)


def error_event(provider: str) -> bytes:
    """The in-band error a provider sends when it fails mid-stream (an overload), framed by the codecs."""
    if provider == "anthropic":
        return event("error", anthropic_messages.encode_error("overloaded_error", "Overloaded (emulated)"))
    return data(openai_chat.encode_error("The server is overloaded (emulated)", "server_error"))


def without_final_marker(last: bytes) -> bytes:
    """The stream's last bytes without ``[DONE]`` (OpenAI) or the ``message_stop`` event (Anthropic)."""
    if last.endswith(DONE):
        return last[: -len(DONE)]
    cut = last.rfind(b"event: message_stop")
    return last[:cut] if cut >= 0 else last
