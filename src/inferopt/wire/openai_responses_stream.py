"""OpenAI Responses streams, both directions, with no I/O.

A stream is named SSE events, each with a ``sequence_number`` counting from 0:
``response.created``, ``response.in_progress``, then per output item ``response.output_item.added``,
its parts (``response.content_part.added``, ``response.output_text.delta`` ...
``response.output_text.done``, ``response.content_part.done``; a function call's
``response.function_call_arguments.delta`` ... ``.done``; a reasoning item's
``response.reasoning_summary_part.added``, ``response.reasoning_summary_text.delta`` ...),
``response.output_item.done``, and last ``response.completed`` (or ``response.incomplete``) with
the whole response object. A stream that fails after it started ends with an ``error`` event and
``response.failed``.
"""

from __future__ import annotations

from typing import Any

from inferopt.types import ChatResponse, Delta, TextDelta, ThinkingDelta, ToolCallDelta
from inferopt.wire import openai_responses_answer as responses
from inferopt.wire.common import ErrorDetail, StreamCut, StreamErrorEvent, json_object
from inferopt.wire.openai_responses import new_id
from inferopt.wire.sse import event

_FINAL = ("response.completed", "response.incomplete", "response.failed")


class ResponsesStreamEncoder:
    """The events of one streamed response: ``start()``, ``delta()`` per neutral delta, ``done()``.

    Items open as their first delta arrives and close when another kind begins; the final
    ``response.completed`` lists exactly the items streamed (same ids), plus any part of the answer
    that arrived only in the final response (an upstream that answered in one piece).
    """

    def __init__(self, model: str, echo: responses.Echo) -> None:
        self.model = model
        self.echo = echo
        self.items: list[dict[str, Any]] = []
        self._seq = 0
        self._open: dict[str, Any] | None = None  # the item being streamed
        self._calls: dict[int, dict[str, Any]] = {}  # tool-call index -> its item
        self._text = False
        self.final: dict[str, Any] | None = None  # the response object the last event carried

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event(kind, payload)

    def start(self) -> bytes:
        shell = self.echo.shell(self.model, "in_progress")
        return self._event("response.created", response=shell) + self._event("response.in_progress", response=shell)

    def _add(self, item: dict[str, Any]) -> bytes:
        out = self._close()
        self.items.append(item)
        self._open = item
        return out + self._event("response.output_item.added", output_index=len(self.items) - 1, item=dict(item))

    def _close(self) -> bytes:
        item, self._open = self._open, None
        if item is None:
            return b""
        index = self.items.index(item)
        out = b""
        item["status"] = "completed"
        if item["type"] == "message":
            part = item["content"][0]
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            out += self._event("response.output_text.done", text=part["text"], logprobs=[], **where)
            out += self._event("response.content_part.done", part=part, **where)
        elif item["type"] == "function_call":
            out += self._event(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                name=item["name"],
                arguments=item["arguments"],
            )
        elif item["type"] == "reasoning" and item["summary"]:
            where = {"item_id": item["id"], "output_index": index, "summary_index": 0}
            part = item["summary"][0]
            out += self._event("response.reasoning_summary_text.done", text=part["text"], **where)
            out += self._event("response.reasoning_summary_part.done", part=part, **where)
        return out + self._event("response.output_item.done", output_index=index, item=item)

    def _open_message(self) -> bytes:
        item: dict[str, Any] = {
            "id": new_id("msg"),
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        out = self._add(item)
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        where = {"item_id": item["id"], "output_index": len(self.items) - 1, "content_index": 0}
        item["content"].append(part)
        return out + self._event("response.content_part.added", part=dict(part), **where)

    def _text_delta(self, text: str) -> bytes:
        out = b""
        if self._open is None or self._open["type"] != "message":
            out += self._open_message()
        item = self._open
        assert item is not None
        item["content"][0]["text"] += text
        self._text = True
        where = {"item_id": item["id"], "output_index": self.items.index(item), "content_index": 0}
        return out + self._event("response.output_text.delta", delta=text, logprobs=[], **where)

    def _tool_delta(self, delta: ToolCallDelta) -> bytes:
        out = b""
        item = self._calls.get(delta.index)
        if item is None:
            call = {"id": delta.id, "function": {"name": delta.name or "", "arguments": ""}}
            item = responses.function_call_item(call, new_id("fc"), "in_progress")
            self._calls[delta.index] = item
            out += self._add(item)
        if not delta.arguments:
            return out
        item["arguments"] += delta.arguments
        return out + self._event(
            "response.function_call_arguments.delta",
            item_id=item["id"],
            output_index=self.items.index(item),
            delta=delta.arguments,
        )

    def _thinking_delta(self, delta: ThinkingDelta) -> bytes:
        if not delta.text:
            return b""  # signatures and redacted blocks have no place in a Responses stream
        out = b""
        if self._open is None or self._open["type"] != "reasoning":
            out += self._add({"id": new_id("rs"), "type": "reasoning", "summary": [], "status": "in_progress"})
            assert self._open is not None
            part = {"type": "summary_text", "text": ""}
            where = {"item_id": self._open["id"], "output_index": len(self.items) - 1, "summary_index": 0}
            out += self._event("response.reasoning_summary_part.added", part=dict(part), **where)
            self._open["summary"].append(part)
        item = self._open
        item["summary"][0]["text"] += delta.text
        where = {"item_id": item["id"], "output_index": self.items.index(item), "summary_index": 0}
        return out + self._event("response.reasoning_summary_text.delta", delta=delta.text, **where)

    def delta(self, delta: Delta) -> bytes:
        if isinstance(delta, TextDelta):
            return self._text_delta(delta.text) if delta.text else b""
        if isinstance(delta, ToolCallDelta):
            return self._tool_delta(delta)
        return self._thinking_delta(delta)

    def done(self, response: ChatResponse) -> bytes:
        """What was not streamed (text or tool calls answered in one piece), then the final event."""
        out = b""
        if not self._text and (response.content or not (response.tool_calls or self._calls)):
            out += self._text_delta(response.content) if response.content else self._open_message()
        for index, call in enumerate(response.tool_calls or ()):
            if index not in self._calls:
                fn = call.get("function") or {}
                out += self._tool_delta(ToolCallDelta(index, call.get("id"), fn.get("name"), fn.get("arguments") or ""))
            elif call.get("id") and not self._calls[index]["call_id"]:
                self._calls[index]["call_id"] = call["id"]
        if response.refusal:
            message = next((i for i in self.items if i["type"] == "message"), None)
            if message is not None:
                message["content"].append({"type": "refusal", "refusal": response.refusal})
        out += self._close()
        self.final = body = responses.encode_response(response, self.echo, self.items)
        name = "response.completed" if body["status"] == "completed" else "response.incomplete"
        return out + self._event(name, response=body)

    def error(self, payload: dict[str, Any]) -> bytes:
        """An ``error`` event and ``response.failed``: the stream ended without its answer."""
        err: dict[str, Any] = payload["error"] if isinstance(payload.get("error"), dict) else payload
        message = str(err.get("message") or "the upstream failed")
        failed = self.echo.shell(self.model, "failed")
        failed.update(output=self.items, error={"code": "server_error", "message": message})
        return self._event("error", code=err.get("code"), message=message, param=err.get("param")) + self._event(
            "response.failed", response=failed
        )


class ResponsesStreamDecoder:
    """Feed it each event's data; it returns the neutral deltas it carries. Complete at
    ``response.completed`` / ``response.incomplete``, whose response object is the whole answer."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.final: dict[str, Any] | None = None
        self._call_index: dict[str, int] = {}

    def feed(self, data: str) -> list[Delta]:
        payload = json_object(data, "a Responses stream event")
        kind = payload.get("type")
        if kind == "error" or kind == "response.failed":
            failed = payload.get("response") if kind == "response.failed" else None
            err: dict[str, Any] = (failed or {}).get("error") or {} if kind == "response.failed" else payload
            raise StreamErrorEvent(ErrorDetail(str(err.get("message") or "stream failed"), kind, err.get("code")))
        if kind == "response.output_text.delta":
            return [TextDelta(str(payload.get("delta", "")))]
        if kind == "response.reasoning_summary_text.delta":
            return [ThinkingDelta(str(payload.get("delta", "")))]
        if kind == "response.output_item.added" and (payload.get("item") or {}).get("type") == "function_call":
            item = payload["item"]
            index = self._call_index.setdefault(item.get("id", ""), len(self._call_index))
            return [ToolCallDelta(index, item.get("call_id"), item.get("name"), item.get("arguments") or "")]
        if kind == "response.function_call_arguments.delta":
            index = self._call_index.get(payload.get("item_id", ""), 0)
            return [ToolCallDelta(index, arguments=str(payload.get("delta", "")))]
        if kind in _FINAL:
            self.final = payload.get("response") or {}
        return []

    @property
    def complete(self) -> bool:
        return self.final is not None

    def result(self) -> ChatResponse:
        if self.final is None:
            raise StreamCut("stream ended before response.completed (connection dropped mid-answer)")
        return responses.decode_response(self.final, self.model)
