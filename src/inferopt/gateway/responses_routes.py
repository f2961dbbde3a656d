"""The OpenAI Responses dialect of the gateway: ``POST /v1/responses``, ``GET`` and ``DELETE``
``/v1/responses/{id}``, checked here and mapped by :mod:`inferopt.wire.openai_responses`.

A Responses call becomes the neutral chat request, so every wrapper of the stack (cache, routing,
limits, retries, budgets, pricing) applies as to chat, and any provider answers it (an Anthropic
model too: the request is translated, and the answer back). The gateway keeps the conversation
itself (``store``, on by default as in the API): ``previous_response_id`` continues it whatever the
upstream keeps, scoped to the caller's key.
"""

from __future__ import annotations

from typing import Any

from inferopt.conversations import Conversations
from inferopt.gateway.problems import Problem, invalid
from inferopt.gateway.validation import ParsedChat, RequestLimits, check_max_tokens, check_number, parse_json_object
from inferopt.types import ChatResponse
from inferopt.wire import openai_responses as requests
from inferopt.wire import openai_responses_answer as responses
from inferopt.wire.openai_responses_answer import ResponsesCall
from inferopt.wire.openai_responses_stream import ResponsesStreamEncoder
from inferopt.wire.sse import dumps

_ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning")
_ROLES = ("user", "assistant", "system", "developer")
_FORMATS = ("text", "json_object", "json_schema")
_CHOICES = ("auto", "none", "required")


def _check_item(index: int, item: Any) -> Problem | None:
    where = f"input[{index}]"
    if not isinstance(item, dict):
        return invalid(f"{where} must be an object (a message or a function_call_output item)", param=where)
    kind = item.get("type", "message")
    if kind not in _ITEM_TYPES:
        return invalid(
            f"{where}.type {kind!r} is not supported by the gateway; send one of {', '.join(_ITEM_TYPES)}",
            param=f"{where}.type",
        )
    if kind == "message":
        if item.get("role") not in _ROLES:
            return invalid(f"{where}.role must be one of {', '.join(_ROLES)}", param=f"{where}.role")
        content = item.get("content")
        if not isinstance(content, str | list) or (
            isinstance(content, list) and not all(isinstance(p, dict) and "type" in p for p in content)
        ):
            return invalid(f"{where}.content must be a string or a list of parts with a 'type'", param=where)
    if kind in ("function_call", "function_call_output") and not isinstance(item.get("call_id"), str):
        return invalid(f"{where}.call_id is required (the id of the function call)", param=f"{where}.call_id")
    if kind == "function_call" and not isinstance(item.get("name"), str):
        return invalid(f"{where}.name is required (the function's name)", param=f"{where}.name")
    return None


def _check_input(value: Any, limits: RequestLimits) -> Problem | None:
    if isinstance(value, str):
        return None
    if not isinstance(value, list):
        return invalid("'input' is required: a string, or a list of input items", param="input")
    if len(value) > limits.max_messages:
        return invalid(f"too many input items ({len(value)}; at most {limits.max_messages})", param="input")
    return next((p for i, item in enumerate(value) if (p := _check_item(i, item)) is not None), None)


def _check_tools(data: dict[str, Any]) -> Problem | None:
    tools = data.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        return invalid("'tools' must be a list of function tools", param="tools")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else tool
            return invalid(
                f"tools[{i}].type {kind!r} is a hosted tool the gateway does not run; send function tools",
                param=f"tools[{i}].type",
            )
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            return invalid(f"tools[{i}].name is required", param=f"tools[{i}].name")
    choice = data.get("tool_choice")
    named = isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str)
    if choice is not None and choice not in _CHOICES and not named:
        return invalid("'tool_choice' must be auto, none, required or {type: function, name}", param="tool_choice")
    return None


def _check_text(data: dict[str, Any]) -> Problem | None:
    text = data.get("text")
    if text is None:
        return None
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(text, dict) or (fmt is not None and not isinstance(fmt, dict)):
        return invalid("'text' must be an object like {format: {type: text}}", param="text")
    if fmt is not None and fmt.get("type") not in _FORMATS:
        return invalid(f"text.format.type must be one of {', '.join(_FORMATS)}", param="text.format.type")
    if (
        fmt is not None
        and fmt.get("type") == "json_schema"
        and not (isinstance(fmt.get("name"), str) and isinstance(fmt.get("schema"), dict))
    ):
        return invalid("text.format json_schema needs 'name' and 'schema'", param="text.format")
    return None


def _check_scalars(data: dict[str, Any], limits: RequestLimits) -> Problem | None:
    for name, kind, what in (
        ("instructions", str, "a string"),
        ("previous_response_id", str, "a response id string"),
        ("stream", bool, "true or false"),
        ("store", bool, "true or false"),
        ("metadata", dict, "an object"),
        ("reasoning", dict, "an object like {effort: low}"),
    ):
        if data.get(name) is not None and not isinstance(data[name], kind):
            return invalid(f"'{name}' must be {what}", param=name)
    checks = (
        check_number(data, "temperature", 0, 2),
        check_number(data, "top_p", 0, 1),
        check_max_tokens(data, "max_output_tokens", limits),
    )
    return next((c for c in checks if isinstance(c, Problem)), None)


def parse(body: bytes, limits: RequestLimits) -> ParsedChat | Problem:
    """A ``/v1/responses`` body as a :class:`ParsedChat` (its ``context`` a :class:`ResponsesCall`)."""
    data = parse_json_object(body)
    if isinstance(data, Problem):
        return data
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        return invalid("'model' is required: a model alias or id as a non-empty string", param="model")
    problem = _check_input(data.get("input"), limits) or _check_tools(data) or _check_text(data)
    problem = problem or _check_scalars(data, limits)
    if problem is not None:
        return problem
    call = ResponsesCall.of(data)
    return ParsedChat(requests.decode_request(data), bool(data.get("stream")), True, context=call)


def call_of(parsed: ParsedChat) -> ResponsesCall:
    assert isinstance(parsed.context, ResponsesCall)
    return parsed.context


async def continue_conversation(parsed: ParsedChat, store: Conversations, scope: str) -> Problem | None:
    """Put the stored conversation ``previous_response_id`` names before this call's input."""
    call = call_of(parsed)
    previous = call.data.get("previous_response_id")
    if not previous:
        return None
    record = await store.get(scope, previous)
    if record is None:
        return invalid(
            f"Previous response with id {previous!r} not found. It was not stored here (store: false, "
            "another key, or forgotten); send the whole conversation as 'input' instead",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    call.history = responses.next_turn_items(record)
    at = 1 if call.data.get("instructions") else 0
    parsed.request.messages[at:at] = requests.decode_items(call.history)
    return None


async def keep(parsed: ParsedChat, store: Conversations, scope: str) -> None:
    """Store the answer as sent (when the call asked to), with the conversation it answered."""
    call = call_of(parsed)
    record = responses.record_of(call)
    if record is not None and call.final is not None:
        await store.put(scope, call.final["id"], record)


def response_body(response: ChatResponse, parsed: ParsedChat) -> bytes:
    call = call_of(parsed)
    call.final = responses.encode_response(response, call.echo)
    return dumps(call.final).encode()


class KeptStreamEncoder(ResponsesStreamEncoder):
    """The stream encoder that also keeps the final response object for the store."""

    def __init__(self, model: str, call: ResponsesCall) -> None:
        super().__init__(model, call.echo)
        self.call = call

    def done(self, response: ChatResponse) -> bytes:
        out = super().done(response)
        self.call.final = self.final
        return out


def stream_writer(model: str, parsed: ParsedChat) -> KeptStreamEncoder:
    return KeptStreamEncoder(model, call_of(parsed))


def error_payload(problem: Problem) -> dict[str, Any]:
    return {"type": "error", **problem.openai_error()}


def deleted_body(response_id: str) -> bytes:
    return dumps({"id": response_id, "object": "response", "deleted": True}).encode()


def stored_body(record: dict[str, Any], items: bool) -> bytes:
    """A stored response object, or (``items``) the input items it answered, as a list object."""
    if not items:
        return dumps(record["response"]).encode()
    return dumps(responses.input_items_list(record)).encode()


def not_found(response_id: str) -> Problem:
    return Problem(404, f"No response found with id {response_id!r}.", code="not_found", param="response_id")
