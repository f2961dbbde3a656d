"""Anthropic Messages as the emulator answers them: bodies, stream events and errors.

Requests are decoded in :mod:`inferopt.emulator.calls` (cache breakpoints included); answers are
encoded by the product's codecs (:mod:`inferopt.wire.anthropic_messages` and its stream encoder):
a ``message`` whose ``usage.input_tokens`` excludes cache reads and writes, streams of
``message_start`` (with the prompt's usage, as the real API sends it), ``ping``, the text block's
events, ``message_delta`` (stop reason, final usage) and ``message_stop``. Error wording (the
provider's own sentences) is the emulator's, the envelope is the codec's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from inferopt.emulator.engine import Failure, Plan
from inferopt.emulator.tool_answers import tool_call_deltas
from inferopt.types import ChatResponse, ThinkingDelta, Usage
from inferopt.wire import anthropic_messages
from inferopt.wire.anthropic_stream import AnthropicStreamEncoder
from inferopt.wire.sse import dumps as _dumps

_STOP_REASON = {"stop": "end_turn", "length": "max_tokens", "stop_sequence": "stop_sequence", "tool_calls": "tool_use"}


def plan_response(plan: Plan, message_id: str) -> ChatResponse:
    response = plan.response(message_id)
    response.provider_stop_reason = _STOP_REASON[plan.answer.finish]
    return response


def _usage(usage: Usage) -> dict[str, Any]:
    return {**anthropic_messages.encode_usage(usage), "service_tier": "standard"}


def message_body(plan: Plan, message_id: str) -> bytes:
    """The non-streamed ``message`` object."""
    response = plan_response(plan, message_id)
    return _dumps({**anthropic_messages.encode_response(response), "usage": _usage(response.usage)}).encode()


class PlanEventWriter:
    """The SSE events of one streamed message, written by the product's stream encoder."""

    def __init__(self, plan: Plan, message_id: str) -> None:
        self._response = plan_response(plan, message_id)
        self._encoder = AnthropicStreamEncoder(plan.model, message_id)

    def first(self) -> bytes:
        """``message_start`` with the usage known so far (the prompt, one output token), a ping, and the
        thought when there is one (its text in pieces, then its signature)."""
        start = self._encoder.start(_usage(replace(self._response.usage, output_tokens=1)))
        for part in self._response.thinking or ():
            pieces = [part.text[i : i + 48] for i in range(0, len(part.text), 48)]
            start += b"".join(self._encoder.delta(ThinkingDelta(piece, index=0)) for piece in pieces)
            start += self._encoder.delta(ThinkingDelta(signature=part.signature, index=0))
        return start

    def content(self, text: str) -> bytes:
        return self._encoder.text(text)

    def last(self) -> bytes:
        """Tool-use blocks (their input in ``input_json_delta`` pieces), ``message_delta`` (stop reason,
        final usage), ``message_stop``."""
        pieces = [self._encoder.delta(d) for d in tool_call_deltas(self._response)]
        return b"".join(pieces) + self._encoder.done(self._response)


def error_body(failure: Failure, request_id: str) -> bytes:
    """``{"type": "error", ...}`` worded as Anthropic words each failure."""
    kind = failure.kind
    err_type = "invalid_request_error"
    if kind == "auth":
        err_type, message = "authentication_error", "x-api-key header is required"
    elif kind == "unknown_model":
        err_type = "not_found_error"
        message = f"model: {failure.model} (models of this emulator: {', '.join(failure.known_models)})"
    elif kind == "context_length":
        message = f"prompt is too long: {failure.requested} tokens > {failure.limit} maximum"
    elif kind == "max_tokens":
        message = (
            f"max_tokens: {failure.requested} > {failure.limit}, which is the maximum allowed number of "
            f"output tokens for {failure.model}"
        )
    elif kind == "rate_limited":
        err_type, message = "rate_limit_error", _rate_limit_message(failure)
    elif kind == "server_error" and failure.status == 529:
        err_type, message = "overloaded_error", "Overloaded (emulated)"
    elif kind == "server_error":
        err_type, message = "api_error", "Internal server error (emulated)"
    elif kind == "content_filter":
        message = "Output blocked by content filtering policy (emulated)"
    elif kind == "no_prefill":
        message = (
            "This model does not support assistant message prefill. The conversation must end with a user message."
        )
    else:
        message = failure.message
    return _dumps(anthropic_messages.encode_error(err_type, message, request_id)).encode()


def _rate_limit_message(failure: Failure) -> str:
    decision = failure.decision
    if decision is not None and decision.exceeded == "tokens" and decision.tokens is not None:
        return (
            f"This request would exceed the rate limit for your organization of {decision.tokens.limit} "
            f"tokens per minute for {failure.model}. See the response headers for current usage. (emulated)"
        )
    if decision is not None and decision.exceeded == "requests" and decision.requests is not None:
        return (
            f"This request would exceed the rate limit for your organization of {decision.requests.limit} "
            f"requests per minute for {failure.model}. See the response headers for current usage. (emulated)"
        )
    return f"Number of requests has exceeded your rate limit for {failure.model}. (emulated burst)"
