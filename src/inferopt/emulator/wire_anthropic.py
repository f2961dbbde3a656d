"""Anthropic Messages wire format: request parsing, bodies, stream events, errors.

Shapes follow the official API (and the ``anthropic`` SDK's types): a ``message`` object whose
``usage.input_tokens`` **excludes** cache reads and writes (``cache_read_input_tokens``,
``cache_creation_input_tokens`` split in ``cache_creation.ephemeral_5m/1h_input_tokens``);
streams of ``message_start``, ``content_block_start``, ``ping``, ``content_block_delta``
(``text_delta``), ``content_block_stop``, ``message_delta`` (stop reason, final usage),
``message_stop``, each as ``event: NAME`` + ``data: JSON``; errors as
``{"type": "error", "error": {"type", "message"}, "request_id"}``.

Caching breakpoints are blocks with ``cache_control``, in the order tools, system, messages.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from inferopt.emulator.engine import Failure, ParsedCall, Plan
from inferopt.emulator.prompt_cache import Breakpoint
from inferopt.emulator.token_runs import TokenRun, framing, tokenize

MAX_BREAKPOINTS = 4
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_STOP_REASON = {"stop": "end_turn", "length": "max_tokens", "stop_sequence": "stop_sequence"}


def bad_request(message: str) -> Failure:
    return Failure(400, "bad_request", message=message)


class _Blocks:
    """The prompt as cacheable blocks: token runs, where each block ends, which carry breakpoints."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.runs: list[TokenRun] = []
        self.ends: list[int] = []
        self.breakpoints: list[Breakpoint] = []
        self.digest = hashlib.blake2b(digest_size=16)
        self._position = 0

    def add(self, text: str, cache_control: Any, role: str | None = None) -> str | None:
        """Add one block (after its message's role framing when ``role`` is given); returns an
        error message or None."""
        if role is not None:
            self.runs.append(framing(role))
            self._position += len(self.runs[-1])
            self.digest.update(b"\x00" + role.encode() + b"\x00")
        run = tokenize(text, self.model)
        self.runs.append(run)
        self._position += len(run)
        self.ends.append(self._position)
        self.digest.update(text.encode("utf-8", "surrogatepass") + b"\x00")
        if cache_control is None:
            return None
        if not isinstance(cache_control, dict) or cache_control.get("type") != "ephemeral":
            return "cache_control.type: Input should be 'ephemeral'"
        ttl = cache_control.get("ttl", "5m")
        if ttl not in ("5m", "1h"):
            return "cache_control.ttl: Input should be '5m' or '1h'"
        self.breakpoints.append(Breakpoint(len(self.ends) - 1, ttl))
        return None


def parse(body: Any) -> ParsedCall | Failure:
    """A ``/v1/messages`` body as a :class:`ParsedCall`, or the 400 it deserves."""
    if not isinstance(body, dict):
        return bad_request("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return bad_request("model: Field required")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        return bad_request("max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        return bad_request("max_tokens: Input should be greater than or equal to 1")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return bad_request("messages: at least one message is required")

    blocks = _Blocks(model)
    errors: list[str | None] = []
    for tool in body.get("tools") or ():
        if isinstance(tool, dict):
            spec = {k: v for k, v in tool.items() if k != "cache_control"}
            errors.append(blocks.add(json.dumps(spec, sort_keys=True), tool.get("cache_control")))
    system = body.get("system")
    if isinstance(system, str) and system:
        errors.append(blocks.add(system, None, role="system"))
    elif isinstance(system, list):
        for i, block in enumerate(system):
            if isinstance(block, dict):
                errors.append(blocks.add(_block_text(block), block.get("cache_control"), "system" if i == 0 else None))
    last_user = ""
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return bad_request("messages: each message needs a role of 'user' or 'assistant'")
        role, content = message["role"], message.get("content")
        if isinstance(content, str):
            errors.append(blocks.add(content, None, role=role))
            text = content
        elif isinstance(content, list) and content:
            parts = [b for b in content if isinstance(b, dict)]
            for i, block in enumerate(parts):
                errors.append(blocks.add(_block_text(block), block.get("cache_control"), role if i == 0 else None))
            text = "".join(str(b.get("text", "")) for b in parts if b.get("type") == "text")
        else:
            return bad_request("messages: content must be a string or a non-empty list of blocks")
        if role == "user":
            last_user = text
    if problem := next((e for e in errors if e is not None), None):
        return bad_request(problem)
    if len(blocks.breakpoints) > MAX_BREAKPOINTS:
        return bad_request(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(blocks.breakpoints)}."
        )
    stop = body.get("stop_sequences") or ()
    return ParsedCall(
        model=model,
        runs=blocks.runs,
        last_user_text=last_user,
        digest=blocks.digest.digest(),
        max_tokens=max_tokens,
        stop=tuple(s for s in stop if isinstance(s, str)),
        stream=bool(body.get("stream")),
        block_ends=blocks.ends,
        breakpoints=blocks.breakpoints,
    )


def _block_text(block: dict[str, Any]) -> str:
    """The text a block contributes to the prompt: its text, or its JSON for other block types."""
    if block.get("type") == "text":
        return str(block.get("text", ""))
    return json.dumps({k: v for k, v in block.items() if k != "cache_control"}, sort_keys=True)


def usage(plan: Plan, output_tokens: int) -> dict[str, Any]:
    cache = plan.cache
    return {
        "input_tokens": plan.prompt_tokens - cache.read - cache.written,
        "cache_creation_input_tokens": cache.written,
        "cache_read_input_tokens": cache.read,
        "cache_creation": {"ephemeral_5m_input_tokens": cache.write_5m, "ephemeral_1h_input_tokens": cache.write_1h},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def message_body(plan: Plan, message_id: str) -> bytes:
    """The non-streamed ``message`` object."""
    answer = plan.answer
    return _dumps(
        {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": plan.model,
            "content": [{"type": "text", "text": answer.text}],
            "stop_reason": _STOP_REASON[answer.finish],
            "stop_sequence": answer.stop_sequence,
            "usage": usage(plan, answer.output_tokens),
        }
    ).encode()


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {_dumps(data)}\n\n"


class PlanEventWriter:
    """The SSE events of one streamed message."""

    def __init__(self, plan: Plan, message_id: str) -> None:
        self._plan = plan
        self._id = message_id

    def first(self) -> bytes:
        """``message_start`` (usage so far: the input, one output token), the text block, a ping."""
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._plan.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage(self._plan, 1),
        }
        return (
            _event("message_start", {"type": "message_start", "message": message})
            + _event(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
            + _event("ping", {"type": "ping"})
        ).encode()

    def content(self, text: str) -> bytes:
        return (
            'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
            '"delta":{"type":"text_delta","text":' + _dumps(text) + "}}\n\n"
        ).encode()

    def last(self) -> bytes:
        """``content_block_stop``, ``message_delta`` (stop reason, final usage), ``message_stop``."""
        answer = self._plan.answer
        final = usage(self._plan, answer.output_tokens)
        delta_usage = {
            k: final[k]
            for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
        }
        return (
            _event("content_block_stop", {"type": "content_block_stop", "index": 0})
            + _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": _STOP_REASON[answer.finish], "stop_sequence": answer.stop_sequence},
                    "usage": delta_usage,
                },
            )
            + _event("message_stop", {"type": "message_stop"})
        ).encode()


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
    elif kind == "server_error":
        err_type, message = "api_error", "Internal server error (emulated)"
    else:
        message = failure.message
    return _dumps({"type": "error", "error": {"type": err_type, "message": message}, "request_id": request_id}).encode()


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
