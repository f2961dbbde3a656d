"""The OpenAI Responses API as the emulator answers it: ``POST /v1/responses`` (plain and
streamed), ``GET`` / ``DELETE /v1/responses/{id}`` and ``GET /v1/responses/{id}/input_items``.

Requests are decoded by the product's codec (:mod:`inferopt.wire.openai_responses`) into the same
chat request the engine answers for chat, so tools, ``text.format`` and reasoning models behave
as on ``/v1/chat/completions``; answers and streams are encoded by
:mod:`inferopt.wire.openai_responses_answer` and its stream encoder. Stored responses (``store``,
on by default as in the API) live in this process, per API key, and ``previous_response_id``
continues them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferopt.conversations import MemoryConversations
from inferopt.emulator import calls
from inferopt.emulator.engine import Failure, ParsedCall, Plan
from inferopt.emulator.tool_answers import tool_call_deltas
from inferopt.types import TextDelta
from inferopt.wire import openai_responses as requests
from inferopt.wire import openai_responses_answer as responses
from inferopt.wire.openai_chat import encode_error
from inferopt.wire.openai_responses_stream import ResponsesStreamEncoder
from inferopt.wire.sse import dumps

_ITEMS = ("message", "function_call", "function_call_output", "reasoning")


@dataclass(slots=True)
class EmulatedCall:
    """A Responses call in the emulator: the codec's state, whose store it goes to, and its scope."""

    call: responses.ResponsesCall
    store: MemoryConversations
    scope: str

    def answered(self, final: dict[str, Any]) -> None:
        self.call.final = final
        record = responses.record_of(self.call)
        if record is not None:
            self.store.keep(self.scope, final["id"], record)


def _problem(body: dict[str, Any]) -> Failure | None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return calls.bad("Missing required parameter: 'model'.", "model")
    value = body.get("input")
    if not isinstance(value, str | list):
        return calls.bad("Missing required parameter: 'input'.", "input")
    for i, item in enumerate(value if isinstance(value, list) else ()):
        if not isinstance(item, dict) or item.get("type", "message") not in _ITEMS:
            return calls.bad(f"Invalid value for 'input[{i}]': expected a message or function call item.", "input")
    if body.get("tools") is not None and not isinstance(body["tools"], list):
        return calls.bad("Invalid type for 'tools': expected an array.", "tools")
    return None


def responses_call(body: Any, store: MemoryConversations, scope: str) -> ParsedCall | Failure:
    """A ``/v1/responses`` body as a :class:`ParsedCall` (its conversation continued), or its 400."""
    if not isinstance(body, dict):
        return calls.bad("The request body must be a JSON object.")
    problem = _problem(body)
    if problem is not None:
        return problem
    call = responses.ResponsesCall.of(body)
    previous = body.get("previous_response_id")
    if previous:
        record = store.peek(scope, str(previous))
        if record is None:
            return calls.bad(f"Previous response with id '{previous}' not found.", "previous_response_id")
        call.history = responses.next_turn_items(record)
    request = requests.decode_request(body, call.history)
    return calls.parsed(request, body, include_usage=True, context=EmulatedCall(call, store, scope))


def _emulated(plan: Plan) -> EmulatedCall:
    assert isinstance(plan.context, EmulatedCall)
    return plan.context


def response_body(plan: Plan, answer_id: str, created: int) -> bytes:
    """The non-streamed ``response`` object (stored when the call asked to be)."""
    emulated = _emulated(plan)
    call = emulated.call
    final = responses.encode_response(plan.response(answer_id), call.echo)
    final["created_at"] = created
    emulated.answered(final)
    return dumps(final).encode()


class PlanResponsesWriter:
    """The events of one streamed response, written by the product's stream encoder."""

    def __init__(self, plan: Plan, answer_id: str, created: int, include_usage: bool) -> None:
        self._plan = plan
        self._id = answer_id
        self._emulated = _emulated(plan)
        self._encoder = ResponsesStreamEncoder(plan.model, self._emulated.call.echo)

    def first(self) -> bytes:
        return self._encoder.start()

    def content(self, text: str) -> bytes:
        return self._encoder.delta(TextDelta(text))

    def last(self) -> bytes:
        response = self._plan.response(self._id)
        pieces = [self._encoder.delta(d) for d in tool_call_deltas(response)]
        pieces.append(self._encoder.done(response))
        if self._encoder.final is not None:
            self._emulated.answered(self._encoder.final)
        return b"".join(pieces)


def stored(store: MemoryConversations, scope: str, method: str, path: str) -> tuple[int, bytes]:
    """``GET`` / ``DELETE /v1/responses/{id}[/input_items]``: status and body."""
    response_id, _, rest = path.removeprefix("/v1/responses/").partition("/")
    if method == "DELETE" and not rest:
        if store.forget(scope, response_id):
            return 200, dumps({"id": response_id, "object": "response", "deleted": True}).encode()
    elif method == "GET" and rest in ("", "input_items"):
        record = store.peek(scope, response_id)
        if record is not None and not rest:
            return 200, dumps(record["response"]).encode()
        if record is not None:
            return 200, dumps(responses.input_items_list(record)).encode()
    else:
        return 404, dumps(encode_error(f"Unknown route {method} {path} (emulator)", "invalid_request_error")).encode()
    message = f"No response found with id '{response_id}'."
    return 404, dumps(encode_error(message, "invalid_request_error", "response_id", "not_found")).encode()
