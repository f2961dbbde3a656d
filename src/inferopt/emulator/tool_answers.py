"""Answers that tools and output formats ask for: tool calls, a reply that uses a tool's result, JSON.

Decided from the neutral request (the product's codecs decoded it, whichever wire it came on), so
the OpenAI and Anthropic sides behave alike:

- ``tool_choice`` ``none``: text. A named function: a call to it. ``required`` / Anthropic ``any``:
  a call. ``auto`` (or unset, with tools): a call too, unless the last message is a tool result.
  Which tools: those the user's message names (several, in parallel, unless
  ``parallel_tool_calls`` is false), else the first. Arguments are valid against the function's
  parameters schema (:mod:`.schema_values`), filled from the user's words where strings are free.
- After a tool result: a text answer that quotes it.
- ``response_format`` ``json_schema``: JSON valid against the schema; ``json_object``: a JSON object.

Everything is a pure function of (seed, model, prompt digest), like the rest of the emulator's answers.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace
from typing import Any

from inferopt.emulator import token_runs
from inferopt.emulator.answers import Answer, FinishKind
from inferopt.emulator.schema_values import schema_value
from inferopt.types import ChatRequest, ChatResponse, ToolCallDelta

_CALL_OVERHEAD_TOKENS = 8  # the call's framing and name, as providers bill them (about)
_QUOTE_CHARS = 400


def _rng(seed: int, model: str, digest: bytes, purpose: bytes) -> random.Random:
    h = hashlib.blake2b(digest + model.encode() + purpose, digest_size=8, key=seed.to_bytes(8, "little", signed=True))
    return random.Random(int.from_bytes(h.digest(), "little"))


def _function_tools(request: ChatRequest) -> list[dict[str, Any]]:
    tools = request.tools or ()
    return [t["function"] for t in tools if t.get("type") == "function" and isinstance(t.get("function"), dict)]


def _named(functions: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    lowered = text.lower()
    return [f for f in functions if str(f.get("name", "")).lower().replace("_", " ") in lowered.replace("_", " ")]


def _chosen(request: ChatRequest, functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    choice = request.tool_choice
    if choice == "none":
        return []
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return [f for f in functions if f.get("name") == name][:1]
    last = request.messages[-1] if request.messages else None
    if choice != "required" and (last is None or last.role == "tool"):
        return []  # auto after a tool result: answer with it
    named = _named(functions, request.last_user_text)
    parallel = request.extra.get("parallel_tool_calls", True) is not False
    if named:
        return named if parallel else named[:1]
    return functions[:1]


def _hint(text: str) -> str:
    """The user's words that look like values (capitalised names, numbers), else all of them."""
    words = [w.strip(".,!?;:'\"") for w in text.split()]
    values = [w for i, w in enumerate(words) if w and i > 0 and (w[0].isupper() or w.isdigit())]
    return " ".join(values or words)


def _tool_calls(
    request: ChatRequest, functions: list[dict[str, Any]], seed: int, digest: bytes
) -> list[dict[str, Any]]:
    calls = []
    hint = _hint(request.last_user_text)
    for i, function in enumerate(functions):
        rng = _rng(seed, request.model, digest, b"tool%d" % i)
        arguments = schema_value(function.get("parameters") or {"type": "object", "properties": {}}, rng, hint)
        call_id = "call_" + hashlib.blake2b(digest + b"%d" % i, digest_size=12).hexdigest()
        calls.append(
            {
                "id": call_id,
                "type": "function",
                "function": {"name": function.get("name"), "arguments": json.dumps(arguments, separators=(",", ":"))},
            }
        )
    return calls


def _format_text(request: ChatRequest, answer: Answer, seed: int, digest: bytes) -> str | None:
    fmt = request.response_format
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema") or {}
        rng = _rng(seed, request.model, digest, b"format")
        return json.dumps(schema_value(spec.get("schema") or {}, rng, _hint(request.last_user_text)))
    if fmt.get("type") == "json_object":
        return json.dumps({"answer": answer.text})
    return None


def shape(request: ChatRequest, answer: Answer, seed: int, digest: bytes) -> Answer:
    """``answer`` reshaped for the request's tools and output format (unchanged when it has neither)."""
    last = request.messages[-1] if request.messages else None
    quoted = last is not None and last.role == "tool"
    if not request.tools and request.response_format is None and not quoted:
        return answer  # the load-test hot path: nothing to reshape
    model = request.model
    functions = _function_tools(request)
    chosen = _chosen(request, functions) if functions else []
    if chosen:
        calls = _tool_calls(request, chosen, seed, digest)
        tokens = sum(token_runs.count(c["function"]["arguments"], model) + _CALL_OVERHEAD_TOKENS for c in calls)
        return Answer("", tokens, "tool_calls", tool_calls=tuple(calls))
    text = f"The tool returned: {last.text[:_QUOTE_CHARS]}" if quoted and last is not None else answer.text
    formatted = _format_text(request, replace(answer, text=text), seed, digest)
    if formatted is None and not quoted:
        return answer
    fitted, n, cut = token_runs.fit(formatted if formatted is not None else text, request.max_tokens, model)
    finish: FinishKind = "length" if cut else "stop"
    return replace(answer, text=fitted, output_tokens=n, finish=finish, stop_sequence=None, replayed=False)


def tool_call_deltas(response: ChatResponse) -> list[ToolCallDelta]:
    """Each tool call as a stream sends it: a head with id and name, then its arguments in pieces."""
    deltas = []
    for index, call in enumerate(response.tool_calls or ()):
        function = call.get("function") or {}
        deltas.append(ToolCallDelta(index, call.get("id"), function.get("name")))
        arguments = str(function.get("arguments") or "")
        step = max(1, len(arguments) // 3)
        deltas += [ToolCallDelta(index, arguments=arguments[i : i + step]) for i in range(0, len(arguments), step)]
    return deltas
