"""OpenAI chat-completions wire format: request parsing, bodies, stream chunks, errors.

Shapes follow the official API (and the ``openai`` SDK's types): ``chat.completion`` with
``usage.prompt_tokens_details.cached_tokens`` and ``completion_tokens_details``; streams of
``chat.completion.chunk`` ending with ``data: [DONE]``, and with ``stream_options.include_usage``
a last chunk whose ``choices`` is ``[]`` and whose ``usage`` is set (``null`` on the others);
errors as ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from inferopt.emulator.engine import Failure, ParsedCall, Plan
from inferopt.emulator.logprobs import MAX_TOP_LOGPROBS, LogprobCursor, token_logprobs
from inferopt.emulator.token_runs import TokenRun, framing, tokenize

FINGERPRINT = "inferopt-emulator"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_FINISH = {"stop": "stop", "stop_sequence": "stop", "length": "length"}


def bad_request(message: str, param: str | None = None) -> Failure:
    return Failure(400, "bad_request", message=message, param=param)


def parse(body: Any) -> ParsedCall | Failure:
    """A ``/v1/chat/completions`` body as a :class:`ParsedCall`, or the 400 it deserves."""
    if not isinstance(body, dict):
        return bad_request("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return bad_request("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return bad_request("[] is too short - 'messages'", "messages")
    if body.get("n") not in (None, 1):
        return bad_request("The inferopt emulator answers with one choice only (n must be 1).", "n")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        return bad_request(f"Invalid 'max_tokens': integer below minimum value. Got {max_tokens!r}.", "max_tokens")
    stop = body.get("stop")
    stops = (stop,) if isinstance(stop, str) else tuple(s for s in stop or () if isinstance(s, str))
    logprobs = _logprobs_asked(body)
    if isinstance(logprobs, Failure):
        return logprobs

    digest = hashlib.blake2b(digest_size=16)
    runs: list[TokenRun] = []
    if tools := body.get("tools"):
        tools_text = json.dumps(tools, separators=(",", ":"), sort_keys=True)
        runs.append(tokenize(tools_text, model))
        digest.update(tools_text.encode())
    last_user = ""
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return bad_request("Each message must be an object with a 'role'.", "messages")
        role = message["role"]
        text = content_text(message.get("content"))
        runs.append(framing(role))
        runs.append(tokenize(text, model))
        digest.update(b"\x00" + role.encode() + b"\x00")
        digest.update(text.encode("utf-8", "surrogatepass"))
        if role == "user":
            last_user = text
    options = body.get("stream_options")
    return ParsedCall(
        model=model,
        runs=runs,
        last_user_text=last_user,
        digest=digest.digest(),
        max_tokens=max_tokens,
        stop=stops,
        stream=bool(body.get("stream")),
        include_usage=isinstance(options, dict) and bool(options.get("include_usage")),
        logprobs=logprobs,
    )


def _logprobs_asked(body: dict[str, Any]) -> int | Failure | None:
    """``logprobs: true`` (with ``top_logprobs: 0-20``) as the number of alternatives; None if not asked."""
    top = body.get("top_logprobs")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_TOP_LOGPROBS):
        return bad_request(f"Invalid 'top_logprobs': must be an integer from 0 to {MAX_TOP_LOGPROBS}.", "top_logprobs")
    if not body.get("logprobs"):
        if top is not None:
            return bad_request("'top_logprobs' is only allowed when 'logprobs' is true.", "top_logprobs")
        return None
    return top or 0


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def usage(plan: Plan) -> dict[str, Any]:
    completion = plan.answer.output_tokens
    return {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": plan.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": plan.cache.read, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


# The non-streamed body is the hot path of load tests: a template with three escaped strings
# costs a fraction of encoding the equivalent dict (same bytes as _dumps of that dict).
_COMPLETION = (
    '{"id":"%s","object":"chat.completion","created":%d,"model":%s,"choices":[{"index":0,'
    '"message":{"role":"assistant","content":%s,"refusal":null,"annotations":[]},"logprobs":null,'
    '"finish_reason":"%s"}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,'
    '"prompt_tokens_details":{"cached_tokens":%d,"audio_tokens":0},"completion_tokens_details":'
    '{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},'
    '"service_tier":"default","system_fingerprint":"%s"}'
)


def completion_body(plan: Plan, completion_id: str, created: int) -> bytes:
    """The non-streamed ``chat.completion`` object."""
    answer = plan.answer
    if plan.logprobs is not None:
        data = json.loads(_plain_completion(plan, completion_id, created))
        entries = token_logprobs(plan.model, answer.text, plan.logprobs)
        data["choices"][0]["logprobs"] = {"content": entries, "refusal": None}
        return _dumps(data).encode()
    return _plain_completion(plan, completion_id, created)


def _plain_completion(plan: Plan, completion_id: str, created: int) -> bytes:
    answer = plan.answer
    return (
        _COMPLETION
        % (
            completion_id,
            created,
            _dumps(plan.model),
            _dumps(answer.text),
            _FINISH[answer.finish],
            plan.prompt_tokens,
            answer.output_tokens,
            plan.prompt_tokens + answer.output_tokens,
            plan.cache.read,
            FINGERPRINT,
        )
    ).encode()


class PlanChunkWriter:
    """The SSE lines of one streamed completion; every chunk shares id, created and model."""

    def __init__(self, plan: Plan, completion_id: str, created: int, include_usage: bool) -> None:
        self._plan = plan
        self._include_usage = include_usage
        head = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": plan.model,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }
        # Content chunks are most of a stream: render their constant parts once.
        self._prefix = "data: " + _dumps(head)[:-1] + ',"choices":[{"index":0,"delta":'
        self._suffix = ',"logprobs":null,"finish_reason":null}]' + (',"usage":null' if include_usage else "") + "}\n\n"
        self._head = head
        self._logprobs = (
            LogprobCursor(token_logprobs(plan.model, plan.answer.text, plan.logprobs))
            if plan.logprobs is not None
            else None
        )

    def first(self) -> bytes:
        return (self._prefix + '{"role":"assistant","content":"","refusal":null}' + self._suffix).encode()

    def content(self, text: str) -> bytes:
        if self._logprobs is not None:  # the entries of the tokens this piece completes
            entries = self._logprobs.advance(text)
            suffix = self._suffix.replace(
                '"logprobs":null', '"logprobs":' + _dumps({"content": entries, "refusal": None})
            )
            return (self._prefix + '{"content":' + _dumps(text) + "}" + suffix).encode()
        return (self._prefix + '{"content":' + _dumps(text) + "}" + self._suffix).encode()

    def last(self) -> bytes:
        """The finish chunk, the usage chunk when asked for, and ``[DONE]``."""
        finish: dict[str, Any] = {
            **self._head,
            "choices": [
                {"index": 0, "delta": {}, "logprobs": None, "finish_reason": _FINISH[self._plan.answer.finish]}
            ],
        }
        if self._include_usage:
            finish["usage"] = None
        out = "data: " + _dumps(finish) + "\n\n"
        if self._include_usage:
            out += "data: " + _dumps({**self._head, "choices": [], "usage": usage(self._plan)}) + "\n\n"
        return (out + "data: [DONE]\n\n").encode()


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
    elif kind == "server_error":
        message = "The server had an error while processing your request. Sorry about that! (emulated)"
        err_type = "server_error"
    else:
        message, param = failure.message, failure.param
    return _dumps({"error": {"message": message, "type": err_type, "param": param, "code": code}}).encode()


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
