"""The exact-cache key: a digest of everything that can change the answer.

Incomplete keys serve wrong answers (a cached reply to another temperature, another tool list or
another JSON schema), so the key covers, for the request's model:

- every message (role, content parts, name, tool calls, tool call id) and so the system prompt;
- ``tools``, ``tool_choice``, ``response_format``;
- ``temperature``, ``top_p``, ``max_tokens``, ``stop``, ``seed``, ``reasoning_effort``;
- ``extra``: every provider-specific body field (Anthropic ``thinking``, ``top_k``, ...).

Left out, because they never change the answer: ``options`` (inferopt's own switches, except
``logprobs``: an answer asked with log-probabilities carries them, one asked without does not; and
``choice``: copy i of an ``n``-choice call is its own sample),
``user`` and ``metadata`` (provider-side labels), and ``cache_control`` markers on content
parts (they steer the provider's prompt cache, not the text; leaving them out lets a
``PromptCached`` layer sit on either side of ``Cached``). ``prompt_cache_key`` in ``extra`` is
left out for the same reason.

The namespace (tenant) is hashed in, so two tenants never share an entry by construction.
Optional normalisation (per namespace) folds case and runs of whitespace in message text.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from inferopt.types import ChatRequest, Message

KEY_VERSION = 1
# Fields of ``extra`` that steer provider-side caching only.
_NON_ANSWER_EXTRA = frozenset({"prompt_cache_key", "prompt_cache_retention"})
_WHITESPACE = re.compile(r"\s+")


def _normalise_text(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip().casefold()


def _content(content: str | list[dict[str, Any]], normalise: bool) -> Any:
    if isinstance(content, str):
        return _normalise_text(content) if normalise else content
    parts = []
    for part in content:
        part = {k: v for k, v in part.items() if k != "cache_control"}
        if normalise and part.get("type") == "text" and isinstance(part.get("text"), str):
            part["text"] = _normalise_text(part["text"])
        parts.append(part)
    # A single text part and a plain string are the same prompt to every provider.
    if len(parts) == 1 and set(parts[0]) == {"type", "text"} and parts[0]["type"] == "text":
        return parts[0]["text"]
    return parts


def _message(message: Message, normalise: bool) -> dict[str, Any]:
    return {
        "role": message.role,
        "content": _content(message.content, normalise),
        "name": message.name,
        "tool_calls": message.tool_calls,
        "tool_call_id": message.tool_call_id,
    }


def request_identity(request: ChatRequest, *, normalise: bool = False) -> dict[str, Any]:
    """The parts of ``request`` that can change its answer, as plain JSON-able data."""
    return {
        "model": request.model,
        "messages": [_message(m, normalise) for m in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop,
        "seed": request.seed,
        "tools": request.tools,
        "tool_choice": request.tool_choice,
        "response_format": request.response_format,
        "reasoning_effort": request.reasoning_effort,
        "extra": {k: v for k, v in request.extra.items() if k not in _NON_ANSWER_EXTRA},
        # Only when set, so that every other request keeps the key it always had.
        **({"logprobs": True} if request.options.get("logprobs") else {}),
        # Choice i of an n-choice call (gateway/choices.py) is its own sample; choice 0 is the n=1 answer.
        **({"choice": request.options["choice"]} if request.options.get("choice") else {}),
    }


def canonical_json(data: Any) -> bytes:
    """Stable JSON: sorted keys, no spaces; values JSON cannot encode are stringified."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr).encode()


def cache_key(request: ChatRequest, *, namespace: str = "default", normalise: bool = False) -> str:
    """The exact-cache key of ``request`` in ``namespace``: ``<namespace>:<sha256 hex>``."""
    payload = canonical_json({"v": KEY_VERSION, "ns": namespace, "req": request_identity(request, normalise=normalise)})
    return f"{namespace}:{hashlib.sha256(payload).hexdigest()}"


def context_key(request: ChatRequest, *, namespace: str = "default") -> str:
    """The identity of everything but the last user turn (for the semantic cache).

    Two requests may share a semantic entry only when their conversation before the question, their
    system prompt and their parameters are identical: a follow-up ("and in 2020?") never matches a
    main question asked in another context.
    """
    identity = request_identity(request)
    messages = identity["messages"]
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    if last_user is not None:
        placeholder = {"role": "user", "content": "<question>"}
        messages = [*messages[:last_user], placeholder, *messages[last_user + 1 :]]
    identity["messages"] = messages
    payload = canonical_json({"v": KEY_VERSION, "ns": namespace, "ctx": identity})
    return f"{namespace}:ctx:{hashlib.sha256(payload).hexdigest()}"
