"""What to do with a parameter the target model can't take: translate it, drop it (and say so), or a 400.

Sans-I/O: :func:`adapt` reads a request and a :class:`ModelCapabilities` row and returns the
request to send with what it changed, or raises :class:`UnsupportedParameterError` before anything
is sent (no request, no cost). The defaults (``DEFAULT_POLICY``) drop what only tunes an answer and
refuse what would change its kind:

| parameter | default | translate means |
|---|---|---|
| temperature, top_p | drop | (no translation) |
| seed, parallel_tool_calls | drop | (no translation) |
| thinking | translate | ``reasoning_effort`` <-> a thinking token budget (Anthropic ``thinking``) |
| json_schema | reject | ``json_object`` plus the schema as an instruction, on a model with JSON mode |
| logprobs, tools, images | reject | (no translation) |

A config sets any of them: ``capabilities: {temperature: reject, json_schema: translate}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from inferopt.capabilities.table import ModelCapabilities
from inferopt.errors import ConfigError, UnsupportedParameterError
from inferopt.types import ChatRequest, Message

Action = Literal["translate", "drop", "reject"]
DEFAULT_POLICY: dict[str, Action] = {
    "temperature": "drop",
    "top_p": "drop",
    "seed": "drop",
    "parallel_tool_calls": "drop",
    "thinking": "translate",
    "json_schema": "reject",
    "logprobs": "reject",
    "tools": "reject",
    "images": "reject",
    "max_tokens": "translate",
}
TRANSLATABLE = frozenset({"thinking", "json_schema", "max_tokens"})
UNDROPPABLE = frozenset({"max_tokens"})  # an answer needs a length limit; over the model's own, clamp or refuse
# reasoning_effort <-> Anthropic thinking budget_tokens (its minimum budget is 1,024).
EFFORT_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}
_IMAGE_PARTS = frozenset({"image_url", "image", "input_image"})


def policy_from_options(options: Mapping[str, Any] | None, *, source: str | None = None) -> dict[str, Action]:
    """The defaults with a config's ``capabilities:`` mapping over them (checked: names and actions)."""
    policy = dict(DEFAULT_POLICY)
    for name, action in (options or {}).items():
        if name not in DEFAULT_POLICY:
            raise ConfigError(
                f"unknown parameter {name!r}; known: {sorted(DEFAULT_POLICY)}", file=source, key=f"capabilities.{name}"
            )
        bad_translate = action == "translate" and name not in TRANSLATABLE
        if action not in ("translate", "drop", "reject") or bad_translate or (action == "drop" and name in UNDROPPABLE):
            allowed = (
                "translate or reject"
                if name in UNDROPPABLE
                else "translate, drop or reject"
                if name in TRANSLATABLE
                else "drop or reject"
            )
            raise ConfigError(
                f"{name}: {action!r} is not an action for it; use {allowed}", file=source, key=f"capabilities.{name}"
            )
        policy[name] = action
    return policy


@dataclass(slots=True)
class Adapted:
    request: ChatRequest
    dropped: list[str] = field(default_factory=list)
    translated: list[str] = field(default_factory=list)


def needs(request: ChatRequest) -> list[str]:
    """The capabilities a request can't do without (a router skips targets lacking one)."""
    wanted = []
    if request.tools:
        wanted.append("tools")
    if _schema(request) is not None:
        wanted.append("json_schema")
    if request.extra.get("logprobs") or request.extra.get("top_logprobs"):
        wanted.append("logprobs")
    if _has_images(request.messages):
        wanted.append("images")
    return wanted


def lacks(request: ChatRequest, caps: ModelCapabilities, policy: Mapping[str, Action]) -> list[str]:
    """What ``request`` needs that ``caps`` lacks and ``policy`` would not drop or translate."""
    missing = []
    for name in needs(request):
        if getattr(caps, name) or policy.get(name) == "drop":
            continue
        if name == "json_schema" and policy.get(name) == "translate" and caps.json_object:
            continue
        missing.append(name)
    return missing


def adapt(request: ChatRequest, caps: ModelCapabilities, policy: Mapping[str, Action]) -> Adapted:
    out = Adapted(request)
    _sampling(out, caps, policy)
    if request.seed is not None and not caps.seed:
        _act(out, caps, policy, "seed", lambda r: replace(r, seed=None))
    if "parallel_tool_calls" in request.extra and not caps.parallel_tool_calls:
        _act(
            out,
            caps,
            policy,
            "parallel_tool_calls",
            lambda r: replace(r, extra=_without(r.extra, "parallel_tool_calls")),
        )
    _thinking(out, caps, policy)
    for name in needs(request):
        if not getattr(caps, name):
            _missing(out, caps, policy, name)
    _output_limit(out, caps, policy)
    return out


def _output_limit(out: Adapted, caps: ModelCapabilities, policy: Mapping[str, Action]) -> None:
    """``max_tokens`` over the model's output limit: clamped to it (a fallback to a model with a smaller
    limit still answers), or refused before sending."""
    asked, limit = out.request.max_tokens, caps.max_output_tokens
    if asked is None or limit is None or asked <= limit:
        return
    if policy.get("max_tokens", "translate") == "reject":
        raise UnsupportedParameterError(
            f"'max_tokens' {asked} is over {caps.model}'s output limit of {limit}; ask for at most {limit}, "
            "or set capabilities: {max_tokens: translate} to clamp it",
            param="max_tokens",
            model=caps.model,
        )
    out.request = replace(out.request, max_tokens=limit)
    out.translated.append(f"max_tokens={asked}->{limit}")


def _sampling(out: Adapted, caps: ModelCapabilities, policy: Mapping[str, Action]) -> None:
    r = out.request
    # Reasoning models take only the default value 1 (OpenAI: "Only the default (1) value is supported").
    if r.temperature is not None and r.temperature != 1 and not caps.temperature:
        _act(out, caps, policy, "temperature", lambda q: replace(q, temperature=None))
    if r.top_p is not None and r.top_p != 1 and not caps.top_p:
        _act(out, caps, policy, "top_p", lambda q: replace(q, top_p=None))
    q = out.request
    if caps.sampling_exclusive and q.temperature is not None and q.top_p is not None:
        _act(out, caps, policy, "top_p", lambda s: replace(s, top_p=None), why="may not be set with temperature")


def _thinking(out: Adapted, caps: ModelCapabilities, policy: Mapping[str, Action]) -> None:
    r = out.request
    budget = _budget(r.extra.get("thinking"))
    if r.reasoning_effort is not None and caps.thinking != "effort":
        if caps.thinking == "budget" and r.reasoning_effort in EFFORT_BUDGET and policy["thinking"] == "translate":
            tokens = EFFORT_BUDGET[r.reasoning_effort]
            thinking = {"type": "enabled", "budget_tokens": tokens}
            max_tokens = max(r.max_tokens or 0, tokens + 1024)  # Anthropic: budget_tokens < max_tokens
            out.request = replace(
                r, reasoning_effort=None, max_tokens=max_tokens, extra={**r.extra, "thinking": thinking}
            )
            out.translated.append(f"reasoning_effort->thinking.budget_tokens={tokens}")
        else:
            _act(out, caps, policy, "thinking", lambda q: replace(q, reasoning_effort=None), name_as="reasoning_effort")
    elif budget is not None and caps.thinking != "budget":
        stripped = replace(r, extra=_without(r.extra, "thinking"))
        if caps.thinking == "effort" and policy["thinking"] == "translate":
            effort = "low" if budget <= 2048 else "medium" if budget <= 8192 else "high"
            out.request = replace(stripped, reasoning_effort=effort)
            out.translated.append(f"thinking.budget_tokens->reasoning_effort={effort}")
        else:
            _act(out, caps, policy, "thinking", lambda q: replace(q, extra=_without(q.extra, "thinking")))


def _missing(out: Adapted, caps: ModelCapabilities, policy: Mapping[str, Action], name: str) -> None:
    r = out.request
    if name == "json_schema" and policy[name] == "translate" and caps.json_object:
        schema = _schema(r) or {}
        note = "Answer with one JSON object valid against this JSON Schema:\n" + json.dumps(schema, sort_keys=True)
        out.request = replace(
            r, response_format={"type": "json_object"}, messages=[Message("system", note), *r.messages]
        )
        out.translated.append("json_schema->json_object")
        return
    strip = {
        "json_schema": lambda q: replace(q, response_format=None),
        "logprobs": lambda q: replace(q, extra=_without(q.extra, "logprobs", "top_logprobs")),
        "tools": lambda q: replace(q, tools=None, tool_choice=None),
        "images": lambda q: replace(q, messages=[_text_only(m) for m in q.messages]),
    }[name]
    _act(out, caps, policy, name, strip)


def _act(
    out: Adapted,
    caps: ModelCapabilities,
    policy: Mapping[str, Action],
    name: str,
    strip: Any,
    *,
    why: str = "",
    name_as: str | None = None,
) -> None:
    action = policy.get(name, "reject")
    shown = name_as or name
    if action == "reject" or (action == "translate" and name not in ("thinking",)):
        reason = why or "is not supported with this model"
        raise UnsupportedParameterError(
            f"'{shown}' {reason} ({caps.model}); remove it, or set capabilities: {{{name}: drop}} in the config "
            "to send the request without it",
            param=shown,
            model=caps.model,
        )
    out.request = strip(out.request)
    out.dropped.append(shown)


def _schema(request: ChatRequest) -> dict[str, Any] | None:
    fmt = request.response_format
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema") or {}
        return dict(spec.get("schema") or {}) if isinstance(spec, dict) else {}
    return None


def _budget(thinking: Any) -> int | None:
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        return int(thinking.get("budget_tokens") or 0)
    return None


def _has_images(messages: list[Message]) -> bool:
    return any(isinstance(m.content, list) and any(p.get("type") in _IMAGE_PARTS for p in m.content) for m in messages)


def _text_only(message: Message) -> Message:
    if isinstance(message.content, str):
        return message
    return replace(message, content=[p for p in message.content if p.get("type") not in _IMAGE_PARTS])


def _without(extra: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in extra.items() if k not in keys}
