"""Gemini ``streamGenerateContent?alt=sse``, both directions, with no I/O.

Each event's data is a whole ``GenerateContentResponse`` holding the next parts of the answer:
text pieces, thought pieces (``thought: true``), function calls (each whole in one part). The
chunk with a ``finishReason`` is the last; it (or a later one) carries the final
``usageMetadata``. There is no end marker: the stream ends when the server closes it, so an
answer that ends before its finish reason was cut.
"""

from __future__ import annotations

from typing import Any

from inferopt.types import ChatResponse, Delta, TextDelta, ThinkingDelta, ThinkingPart, ToolCallDelta, Usage
from inferopt.wire import gemini
from inferopt.wire.common import MalformedPayload, StreamCut, StreamErrorEvent, json_object
from inferopt.wire.gemini_response import answer_parts, encode_chunk, parts_of, stop_name, tool_call
from inferopt.wire.sse import data as sse_data


class GeminiStreamDecoder:
    """Fed each event's data; returns the neutral deltas it holds."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.malformed = 0
        self._text: list[str] = []
        self._thoughts: list[ThinkingPart] = []
        self._calls: list[dict[str, Any]] = []
        self._usage: dict[str, Any] | None = None
        self._reason: str | None = None
        self._id = ""
        self._version: str | None = None

    def feed(self, data: str) -> list[Delta]:
        try:
            chunk = json_object(data, "a Gemini stream event")
        except MalformedPayload:
            self.malformed += 1  # one bad event does not end the answer
            return []
        if isinstance(chunk.get("error"), dict):
            raise StreamErrorEvent(gemini.decode_error(data))
        self._id = str(chunk.get("responseId") or self._id)
        self._version = chunk.get("modelVersion") or self._version
        if chunk.get("usageMetadata"):
            self._usage = chunk["usageMetadata"]
        parts, reason = parts_of(chunk)
        deltas: list[Delta] = []
        for part in parts:
            if part.get("thought"):
                deltas.extend(self._thought(part))
            elif "functionCall" in part:
                call = tool_call(part, len(self._calls))
                self._calls.append(call)
                function = call["function"]
                deltas.append(ToolCallDelta(len(self._calls) - 1, call["id"], function["name"], function["arguments"]))
            elif part.get("text"):
                self._text.append(str(part["text"]))
                deltas.append(TextDelta(str(part["text"])))
        if reason is not None:
            self._reason = reason
        return deltas

    def _thought(self, part: dict[str, Any]) -> list[Delta]:
        if not self._thoughts:
            self._thoughts.append(ThinkingPart())
        current = self._thoughts[-1]
        out: list[Delta] = []
        if part.get("text"):
            current.text += str(part["text"])
            out.append(ThinkingDelta(str(part["text"])))
        if part.get("thoughtSignature"):
            current.signature = str(part["thoughtSignature"])
            out.append(ThinkingDelta(signature=current.signature))
        return out

    @property
    def done(self) -> bool:
        return False  # no end marker: the driver reads until the server closes the stream

    @property
    def complete(self) -> bool:
        return self._reason is not None

    def result(self) -> ChatResponse:
        if self._reason is None:
            raise StreamCut("the Gemini stream ended before its finish reason")
        return self.partial()

    def partial(self) -> ChatResponse:
        return ChatResponse(
            id=self._id,
            model=str(self._version or self.model),
            content="".join(self._text),
            usage=gemini.decode_usage(self._usage),
            finish_reason=gemini.finish_reason(self._reason, bool(self._calls)),
            provider_stop_reason=self._reason,
            tool_calls=self._calls or None,
            thinking=self._thoughts or None,
            annotations={"malformed_events": self.malformed} if self.malformed else {},
        )


class GeminiStreamEncoder:
    """The events of one streamed answer: ``delta()`` per neutral delta, then ``done()``."""

    def __init__(self, model: str, response_id: str | None = None) -> None:
        self.model = model
        self.id = response_id or gemini.new_response_id()
        self._streamed_calls: set[int] = set()
        self._usage: dict[str, Any] | None = None

    def _chunk(self, parts: list[dict[str, Any]], finish: str | None = None) -> bytes:
        return sse_data(encode_chunk(parts, self.model, self.id, finish, self._usage))

    def prompt_usage(self, usage: Usage) -> None:
        """Send the prompt's usage with every chunk, as Gemini does (its output count grows at the end)."""
        self._usage = gemini.encode_usage(usage)

    def text(self, text: str) -> bytes:
        return self._chunk([{"text": text}])

    def delta(self, delta: Delta) -> bytes:
        if isinstance(delta, TextDelta):
            return self.text(delta.text)
        if isinstance(delta, ThinkingDelta):
            part: dict[str, Any] = {"text": delta.text, "thought": True}
            if delta.signature:
                part["thoughtSignature"] = delta.signature
            return self._chunk([part]) if delta.text or delta.signature else b""
        return b""  # tool calls go out whole, with the last chunk

    def done(self, response: ChatResponse) -> bytes:
        """The answer's function calls and its finish reason, with the final usage."""
        calls = [p for p in answer_parts(response) if "functionCall" in p]
        self._usage = gemini.encode_usage(response.usage)
        return self._chunk(calls or [{"text": ""}], stop_name(response))

    def error(self, status: int, message: str) -> bytes:
        return sse_data(gemini.encode_error(status, message))
