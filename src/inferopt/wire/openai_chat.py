"""OpenAI chat completions, both directions, with no I/O: requests, answers, usage, finish reasons, errors.

``POST /chat/completions`` is the neutral types' own shape (see :mod:`inferopt.types`), so the
mapping is mostly field by field. Cached prompt tokens are ``usage.prompt_tokens_details.
cached_tokens``, already inside ``prompt_tokens`` (our convention too); reasoning tokens are
``completion_tokens_details.reasoning_tokens``. Streams live in :mod:`.openai_chat_stream`.
"""

from __future__ import annotations

import os
import time
from typing import Any

from inferopt.types import ChatRequest, ChatResponse, FinishReason, Message, Usage
from inferopt.wire.common import ErrorDetail, MalformedPayload
from inferopt.wire.common import error_detail as _error_detail

# The provider's finish reasons in our vocabulary.
FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
# OpenAI has no "error" finish reason; the error itself is reported separately.
_NEUTRAL_FINISH = {"error": "stop"}
# Reasoning models reject the legacy ``max_tokens`` field; everything else (and most
# OpenAI-compatible servers) accepts it.
_MAX_COMPLETION_PREFIXES = ("o1", "o3", "o4", "gpt-5", "gpt-6")
# Answer fields of the upstream's deployment, kept on the answer (annotations) and written back out.
DEPLOYMENT_FIELDS = ("service_tier", "system_fingerprint")
# Body fields the request mapping understands; any other goes through verbatim (ChatRequest.extra).
MAPPED_FIELDS = frozenset(
    [
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "seed",
        "tools",
        "tool_choice",
        "response_format",
        "reasoning_effort",
        "user",
        "metadata",
        "stream",
        "stream_options",
        "n",
    ]
)


def finish_reason(native: str | None) -> FinishReason:
    return FINISH_REASONS.get(native or "stop", "stop")


def native_finish_reason(response: ChatResponse) -> str:
    return _NEUTRAL_FINISH.get(response.finish_reason, response.finish_reason)


# -- usage ---------------------------------------------------------------------------------------


def decode_usage(data: dict[str, Any] | None) -> Usage:
    if not data:
        return Usage()
    prompt_details = data.get("prompt_tokens_details") or {}
    completion_details = data.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=int(data.get("prompt_tokens") or 0),
        output_tokens=int(data.get("completion_tokens") or 0),
        cache_read_tokens=int(prompt_details.get("cached_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


# -- errors --------------------------------------------------------------------------------------


def decode_error(body: bytes | str) -> ErrorDetail:
    """The message, type and code of an error body (``{"error": {...}}``; else the body, cut)."""
    return _error_detail(body)


def encode_error(message: str, error_type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


# -- requests ------------------------------------------------------------------------------------


def _max_tokens_field(model: str) -> str:
    name = model.rsplit("/", 1)[-1]
    return "max_completion_tokens" if name.startswith(_MAX_COMPLETION_PREFIXES) else "max_tokens"


def encode_request(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The JSON body of a chat-completions call for ``request``."""
    body: dict[str, Any] = {"model": request.model, "messages": [m.to_openai() for m in request.messages]}
    if request.max_tokens is not None:
        body[_max_tokens_field(request.model)] = request.max_tokens
    optional = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop,
        "seed": request.seed,
        "tools": request.tools,
        "tool_choice": request.tool_choice,
        "response_format": request.response_format,
        "reasoning_effort": request.reasoning_effort,
        "user": request.user,
        "metadata": request.metadata,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if request.options.get("logprobs") and "logprobs" not in request.extra:
        body["logprobs"] = True  # a confidence check asked for them (providers without them ignore it)
    body.update(request.extra)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def decode_message(item: dict[str, Any]) -> Message:
    # "developer" is the system prompt of reasoning models; every upstream knows "system".
    return Message.from_openai({**item, "role": "system" if item.get("role") == "developer" else item["role"]})


def decode_request(data: dict[str, Any]) -> ChatRequest:
    """A ``/chat/completions`` body (already checked at the edge) as a neutral request."""
    stop = data.get("stop")
    max_tokens = data.get("max_completion_tokens")
    user = data.get("user")
    return ChatRequest(
        model=data["model"],
        messages=[decode_message(m) for m in data["messages"]],
        max_tokens=max_tokens if max_tokens is not None else data.get("max_tokens"),
        temperature=data.get("temperature"),
        top_p=data.get("top_p"),
        stop=[stop] if isinstance(stop, str) else stop,
        seed=data.get("seed"),
        tools=data.get("tools"),
        tool_choice=data.get("tool_choice"),
        response_format=data.get("response_format"),
        reasoning_effort=data.get("reasoning_effort"),
        user=user if isinstance(user, str) else None,
        metadata=data.get("metadata"),
        extra={k: v for k, v in data.items() if k not in MAPPED_FIELDS},
    )


# -- answers ---------------------------------------------------------------------------------------


def logprob_entries(choice: dict[str, Any]) -> list[dict[str, Any]] | None:
    """``choice.logprobs.content`` (one entry per token) when the call asked for log-probabilities."""
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    return [e for e in content if isinstance(e, dict)] if isinstance(content, list) else None


def logprob_annotations(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """``logprobs``: the tokens' log-probabilities (what a cascade's confidence check reads);
    ``logprobs_content``: the provider's entries as sent (tokens, bytes, top alternatives)."""
    return {"logprobs": [float(e.get("logprob", 0.0)) for e in entries], "logprobs_content": entries}


def decode_response(data: dict[str, Any], model: str) -> ChatResponse:
    """A ``chat.completion`` object as a neutral answer (the transport's fields are the caller's)."""
    try:
        choice = data["choices"][0]
        message = choice.get("message") or {}
    except (KeyError, IndexError, TypeError, AttributeError):
        raise MalformedPayload("chat completion without choices") from None
    reason = choice.get("finish_reason")
    logprobs = logprob_entries(choice)
    annotations = logprob_annotations(logprobs) if logprobs is not None else {}
    for name in DEPLOYMENT_FIELDS:  # which tier served it and on what backend: the client may read them
        if isinstance(data.get(name), str):
            annotations[name] = data[name]
    return ChatResponse(
        id=str(data.get("id", "")),
        model=str(data.get("model") or model),
        content=message.get("content") or "",
        usage=decode_usage(data.get("usage")),
        finish_reason=finish_reason(reason),
        provider_stop_reason=reason,
        tool_calls=message.get("tool_calls"),
        refusal=message.get("refusal"),
        annotations=annotations,
    )


def completion_id() -> str:
    return "chatcmpl-" + os.urandom(12).hex()


def response_logprobs(response: ChatResponse) -> dict[str, Any] | None:
    """The upstream's token log-probabilities, when the request asked for them (``logprobs: true``)."""
    content = response.annotations.get("logprobs_content")
    return {"content": content, "refusal": None} if content is not None else None


def encode_response(response: ChatResponse, created: int | None = None) -> dict[str, Any]:
    """A neutral answer as a ``chat.completion`` object (the spec's required fields all present)."""
    message: dict[str, Any] = {"role": "assistant", "content": response.content, "refusal": response.refusal}
    if response.tool_calls:
        message["tool_calls"] = response.tool_calls
    return {
        "id": response.id or completion_id(),
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": response.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": native_finish_reason(response),
                "logprobs": response_logprobs(response),
            }
        ],
        "usage": encode_usage(response.usage),
        **{name: response.annotations[name] for name in DEPLOYMENT_FIELDS if name in response.annotations},
    }


def encode_choices(responses: list[ChatResponse], usage: Usage, created: int | None = None) -> dict[str, Any]:
    """One ``chat.completion`` holding each answer as a choice, indexed in order, with ``usage``."""
    bodies = [encode_response(r, created) for r in responses]
    head = bodies[0]
    head["choices"] = [{**body["choices"][0], "index": i} for i, body in enumerate(bodies)]
    head["usage"] = encode_usage(usage)
    return head
