"""OpenAI chat completions as the emulator answers them: bodies, stream chunks and errors.

Requests are decoded in :mod:`inferopt.emulator.calls`; answers are encoded by the product's codecs
(:mod:`inferopt.wire.openai_chat` and its stream encoder), with the two fields a real deployment
adds (``service_tier``, ``system_fingerprint``). A plain answer, the hot path of load tests, is
rendered from a template that ``tests/emulator/test_emulator_codec_parity.py`` proves byte-equal to
the codec's output; error wording (the provider's own sentences) is the emulator's, the envelope
is the codec's.
"""

from __future__ import annotations

from inferopt.emulator.engine import Failure, Plan
from inferopt.emulator.logprobs import LogprobCursor, token_logprobs
from inferopt.emulator.tool_answers import tool_call_deltas
from inferopt.types import ChatResponse
from inferopt.wire import openai_chat
from inferopt.wire.openai_chat_stream import ChatStreamEncoder
from inferopt.wire.sse import dumps as _dumps

FINGERPRINT = "inferopt-emulator"
DEPLOYMENT = {"service_tier": "default", "system_fingerprint": FINGERPRINT}


def plan_response(plan: Plan, completion_id: str) -> ChatResponse:
    response = plan.response(completion_id)
    if plan.logprobs is not None:
        entries = token_logprobs(plan.model, plan.answer.text, plan.logprobs)
        response.annotations = openai_chat.logprob_annotations(entries)
    return response


def codec_body(plan: Plan, completion_id: str, created: int) -> bytes:
    """The ``chat.completion`` object as the product's codec encodes it."""
    body = openai_chat.encode_response(plan_response(plan, completion_id), created)
    return _dumps({**body, **DEPLOYMENT, "service_tier": plan.service_tier}).encode()


# The codec's output for a plain answer, with its variable parts as holes (same bytes: see the docstring).
_COMPLETION = (
    '{"id":"%s","object":"chat.completion","created":%d,"model":%s,"choices":[{"index":0,'
    '"message":{"role":"assistant","content":%s,"refusal":null},"finish_reason":"%s","logprobs":null}],'
    '"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,'
    '"prompt_tokens_details":{"cached_tokens":%d},"completion_tokens_details":{"reasoning_tokens":0}},'
    '"service_tier":"default","system_fingerprint":"' + FINGERPRINT + '"}'
)


def choices_body(plan: Plan, completion_id: str, created: int) -> bytes:
    """An ``n`` > 1 answer: every choice, the prompt billed once."""
    responses = [plan_response(plan, completion_id)] + [
        plan.response(completion_id, i) for i in range(1, len(plan.answers))
    ]
    body = openai_chat.encode_choices(responses, plan.total_usage(), created)
    return _dumps({**body, **DEPLOYMENT, "service_tier": plan.service_tier}).encode()


def completion_body(plan: Plan, completion_id: str, created: int) -> bytes:
    """The non-streamed ``chat.completion`` object."""
    if plan.more:
        return choices_body(plan, completion_id, created)
    if plan.logprobs is not None or plan.answer.tool_calls or plan.service_tier != "default":
        return codec_body(plan, completion_id, created)
    answer = plan.answer
    return (
        _COMPLETION
        % (
            completion_id,
            created,
            _dumps(plan.model),
            _dumps(answer.text),
            "length" if answer.finish == "length" else "stop",
            plan.prompt_tokens,
            answer.output_tokens,
            plan.prompt_tokens + answer.output_tokens,
            plan.cache.read,
        )
    ).encode()


class PlanChunkWriter:
    """The SSE lines of one streamed completion, written by the product's stream encoder."""

    def __init__(self, plan: Plan, completion_id: str, created: int, include_usage: bool) -> None:
        self._plan = plan
        self._id = completion_id
        self._encoder = ChatStreamEncoder(
            plan.model, include_usage, completion_id=completion_id, created=created, head_extra=DEPLOYMENT
        )
        # Choices 1..n-1 of an n > 1 call: their own encoders (same id), written whole at the end.
        self._others = [
            ChatStreamEncoder(
                plan.model, include_usage, completion_id=completion_id, created=created, head_extra=DEPLOYMENT, choice=i
            )
            for i in range(1, len(plan.answers))
        ]
        self._logprobs = (
            LogprobCursor(token_logprobs(plan.model, plan.answer.text, plan.logprobs))
            if plan.logprobs is not None
            else None
        )

    def first(self) -> bytes:
        return self._encoder.start() + b"".join(e.start() for e in self._others)

    def content(self, text: str) -> bytes:
        # With logprobs, each chunk carries the entries of the tokens this piece completes.
        return self._encoder.text(text, self._logprobs.advance(text) if self._logprobs is not None else None)

    def last(self) -> bytes:
        """Tool calls (in fragments, as models stream them), the finish chunk, the usage chunk when
        asked for, and ``[DONE]``."""
        response = self._plan.response(self._id)
        pieces = [self._encoder.delta(d) for d in tool_call_deltas(response)]
        if self._others:
            return b"".join(pieces) + self._choices_end(response)
        usage = openai_chat.encode_usage(response.usage)
        return b"".join(pieces) + self._encoder.finish(openai_chat.native_finish_reason(response), usage)

    def _choices_end(self, first: ChatResponse) -> bytes:
        """Choice 0's finish, each other choice whole (its text, its tool calls, its finish), one usage."""
        out = [self._encoder.finish_chunk(openai_chat.native_finish_reason(first))]
        for i, encoder in enumerate(self._others, start=1):
            response = self._plan.response(self._id, i)
            out.append(encoder.text(response.content) if response.content else b"")
            out += [encoder.delta(d) for d in tool_call_deltas(response)]
            out.append(encoder.finish_chunk(openai_chat.native_finish_reason(response)))
        return b"".join(out) + self._encoder.stream_end(openai_chat.encode_usage(self._plan.total_usage()))


def error_body(failure: Failure) -> bytes:
    """``{"error": {...}}`` worded as OpenAI words each failure."""
    kind = failure.kind
    param: str | None = None
    code: str | None = None
    err_type = "invalid_request_error"
    if kind == "auth":
        message = (
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
    elif kind == "unknown_model":
        message = (
            f"The model `{failure.model}` does not exist or you do not have access to it. "
            f"Models of this emulator: {', '.join(failure.known_models)}."
        )
        code = "model_not_found"
    elif kind == "context_length":
        message = (
            f"This model's maximum context length is {failure.limit} tokens. However, your messages "
            f"resulted in {failure.requested} tokens. Please reduce the length of the messages."
        )
        param, code = "messages", "context_length_exceeded"
    elif kind == "max_tokens":
        message = (
            f"max_tokens is too large: {failure.requested}. This model supports at most {failure.limit} "
            f"completion tokens, whereas you provided {failure.requested}."
        )
        param, code = "max_tokens", "invalid_value"
    elif kind == "rate_limited":
        message, err_type, code = _rate_limit_message(failure), _rate_limit_type(failure), "rate_limit_exceeded"
    elif kind == "resource_unavailable":
        # OpenAI's flex tier, short of capacity: 429 Resource Unavailable, not billed; retry later.
        message, err_type, code = (
            "Resource Unavailable (emulated flex capacity)",
            "resource_unavailable",
            "resource_unavailable",
        )
    elif kind == "server_error":
        message = "The server had an error while processing your request. Sorry about that! (emulated)"
        err_type = "server_error"
    elif kind == "content_filter":
        message = "The response was filtered due to the prompt triggering the content management policy. (emulated)"
        code = "content_filter"
    elif kind == "no_prefill":
        message = (
            "This model does not support assistant message prefill: the conversation must end with a user message."
        )
    else:
        message, param, code = failure.message, failure.param, failure.code
    return _dumps(openai_chat.encode_error(message, err_type, param, code)).encode()


def _rate_limit_type(failure: Failure) -> str:
    decision = failure.decision
    return "requests" if decision is None or decision.exceeded in ("requests", "burst") else "tokens"


def _rate_limit_message(failure: Failure) -> str:
    decision = failure.decision
    wait = f"{decision.retry_after_s:.3f}s" if decision is not None else "1s"
    if decision is not None and decision.too_large and decision.tokens is not None:
        return (
            f"Request too large for {failure.model} on tokens per min (TPM): Limit {decision.tokens.limit}, "
            f"Requested {failure.requested}. The input or output tokens must be reduced in order to run "
            "successfully. (emulated)"
        )
    if decision is not None and decision.exceeded == "tokens" and decision.tokens is not None:
        used = decision.tokens.limit - decision.tokens.remaining
        return (
            f"Rate limit reached for {failure.model} on tokens per min (TPM): Limit {decision.tokens.limit}, "
            f"Used {used}, Requested {failure.requested}. Please try again in {wait}. (emulated)"
        )
    if decision is not None and decision.exceeded == "requests" and decision.requests is not None:
        return (
            f"Rate limit reached for {failure.model} on requests per min (RPM): Limit {decision.requests.limit}, "
            f"Used {decision.requests.limit}, Requested 1. Please try again in {wait}. (emulated)"
        )
    return f"Rate limit reached for {failure.model}. Please try again in {wait}. (emulated burst)"
