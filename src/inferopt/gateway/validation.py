"""Checking untrusted request bodies at the edge, with errors that name the field and the fix.

The core types do no validation (they are built on the hot path from trusted adapters); the
gateway is where untrusted JSON enters, so every field it maps is checked here (the mapping itself
is the wire codec's, :mod:`inferopt.wire`) and a mistake becomes a 400
:class:`~inferopt.gateway.problems.Problem` the client's SDK shows verbatim.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from inferopt.gateway.problems import Problem, invalid
from inferopt.types import ChatRequest, Message
from inferopt.wire import openai_chat

MAX_CHOICES = 128  # OpenAI's own bound on n

ROLES = ("system", "developer", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """What the gateway accepts. Bodies beyond ``max_body_bytes`` get a 413 before being parsed."""

    max_body_bytes: int = 4 * 1024 * 1024
    max_messages: int = 2048
    max_output_tokens: int = 1_000_000


@dataclass(slots=True)
class ParsedChat:
    """A validated chat call: the neutral request and how the client wants the answer."""

    request: ChatRequest
    stream: bool
    include_usage: bool = False
    n: int = 1  # choices asked for (OpenAI chat); the gateway fans out (gateway/choices.py)
    # The dialect's own state for this call (the Responses route's ResponsesCall).
    context: Any = None


def parse_json_object(body: bytes) -> dict[str, Any] | Problem:
    try:
        data = json.loads(body)
    except ValueError as exc:
        return invalid(f"the request body is not valid JSON ({exc}); send a JSON object")
    if not isinstance(data, dict):
        return invalid(f"the request body must be a JSON object, got {type(data).__name__}")
    return data


def check_model(data: dict[str, Any]) -> str | Problem:
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        return invalid("'model' is required: a model alias or id as a non-empty string", param="model")
    return model


def check_number(data: dict[str, Any], name: str, low: float, high: float) -> float | Problem | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        return invalid(f"'{name}' must be a number from {low:g} to {high:g} (got {value!r})", param=name)
    return float(value)


def check_max_tokens(data: dict[str, Any], name: str, limits: RequestLimits) -> int | Problem | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limits.max_output_tokens:
        return invalid(f"'{name}' must be an integer from 1 to {limits.max_output_tokens} (got {value!r})", param=name)
    return value


def check_stop(value: Any, name: str = "stop") -> list[str] | Problem | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return list(value)
    return invalid(f"'{name}' must be a string or a list of strings", param=name)


def _message(index: int, item: Any) -> Message | Problem:
    where = f"messages[{index}]"
    if not isinstance(item, dict):
        return invalid(f"{where} must be an object with 'role' and 'content'", param=where)
    role = item.get("role")
    if role not in ROLES:
        return invalid(f"{where}.role must be one of {', '.join(ROLES)} (got {role!r})", param=f"{where}.role")
    content = item.get("content")
    if content is not None and not isinstance(content, str | list):
        return invalid(f"{where}.content must be a string or a list of content parts", param=f"{where}.content")
    if isinstance(content, list) and not all(isinstance(p, dict) and "type" in p for p in content):
        return invalid(f"{where}.content parts must be objects with a 'type'", param=f"{where}.content")
    if content is None and not item.get("tool_calls"):
        return invalid(f"{where}.content is required (unless the message carries tool_calls)", param=where)
    return openai_chat.decode_message(item)


def parse_messages(value: Any, limits: RequestLimits) -> list[Message] | Problem:
    if not isinstance(value, list) or not value:
        return invalid("'messages' is required: a non-empty list of {role, content} objects", param="messages")
    if len(value) > limits.max_messages:
        return invalid(f"too many messages ({len(value)}; at most {limits.max_messages})", param="messages")
    messages: list[Message] = []
    for i, item in enumerate(value):
        parsed = _message(i, item)
        if isinstance(parsed, Problem):
            return parsed
        messages.append(parsed)
    return messages


def parse_openai_chat(data: dict[str, Any], limits: RequestLimits) -> ParsedChat | Problem:
    """A ``/v1/chat/completions`` body as a :class:`ParsedChat`, or the 400 it deserves."""
    model = check_model(data)
    if isinstance(model, Problem):
        return model
    messages = parse_messages(data.get("messages"), limits)
    if isinstance(messages, Problem):
        return messages
    checks: dict[str, Any] = {
        "temperature": check_number(data, "temperature", 0, 2),
        "top_p": check_number(data, "top_p", 0, 1),
        "max_tokens": check_max_tokens(data, "max_completion_tokens", limits)
        if data.get("max_completion_tokens") is not None
        else check_max_tokens(data, "max_tokens", limits),
        "stop": check_stop(data.get("stop")),
    }
    problem = next((v for v in checks.values() if isinstance(v, Problem)), None)
    if problem is not None:
        return problem
    n = 1 if data.get("n") is None else data["n"]
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CHOICES:
        return invalid(f"'n' must be an integer from 1 to {MAX_CHOICES}", param="n")
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        return invalid("'stream' must be true or false", param="stream")
    for name, kind in (("tools", list), ("response_format", dict), ("metadata", dict), ("stream_options", dict)):
        if data.get(name) is not None and not isinstance(data[name], kind):
            return invalid(f"'{name}' must be a JSON {'array' if kind is list else 'object'}", param=name)
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        return invalid("'seed' must be an integer", param="seed")
    request = openai_chat.decode_request({**data, "messages": []})
    request.messages = messages
    request.temperature, request.top_p = checks["temperature"], checks["top_p"]
    request.max_tokens, request.stop = checks["max_tokens"], checks["stop"]
    include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
    return ParsedChat(request, stream, include_usage, n)
