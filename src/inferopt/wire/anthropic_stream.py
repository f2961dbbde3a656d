"""Anthropic Messages streams, both directions, with no I/O.

A stream is ``message_start``, then content blocks (``content_block_start``, deltas,
``content_block_stop``: ``text_delta`` for text, ``input_json_delta`` for a ``tool_use`` block's
input, ``thinking_delta`` and ``signature_delta`` for thinking), ``message_delta`` (stop reason,
final usage) and ``message_stop``; ``ping`` may come anywhere and ``error`` ends a stream that
failed. :class:`AnthropicStreamDecoder` turns events into neutral deltas and a final answer; like
its peers it is lenient: an event that is not JSON is skipped and counted (``malformed_events`` in
the answer's annotations), and a stream whose ``message_delta`` (stop reason, final usage) arrived
is complete without its ``message_stop``;
:class:`AnthropicStreamEncoder` turns neutral deltas and the final answer into events, opening each block
when its first delta arrives so text, thinking and tool calls are relayed as they come.
"""

from __future__ import annotations

import json
from typing import Any

from inferopt.types import ChatResponse, Delta, TextDelta, ThinkingDelta, ThinkingPart, ToolCallDelta, Usage
from inferopt.wire import anthropic_messages as messages
from inferopt.wire.common import MalformedPayload, StreamCut, StreamErrorEvent, json_object
from inferopt.wire.sse import dumps, event


class AnthropicStreamDecoder:
    """Feed it each event's name and data; it returns the neutral deltas the event carries."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.done = False
        self._message: dict[str, Any] = {}
        self._usage: dict[str, Any] = {}
        self._reason: str | None = None
        self._stop_sequence: str | None = None
        self._text: list[str] = []
        self._kinds: dict[int, str] = {}  # block index -> its type
        self._tools: dict[int, dict[str, Any]] = {}  # block index -> the tool_use block, input as text
        self._thinking: dict[int, ThinkingPart] = {}
        self.malformed = 0

    def feed(self, name: str | None, data: str) -> list[Delta]:
        try:
            payload = json_object(data, "a stream event")
        except MalformedPayload:
            self.malformed += 1
            return []
        kind = name or payload.get("type")
        index = int(payload.get("index") or 0)
        if kind == "content_block_delta":
            return self._delta(index, payload.get("delta") or {})
        if kind == "content_block_start":
            return self._start(index, dict(payload.get("content_block") or {}))
        if kind == "message_start":
            self._message = payload.get("message") or {}
            self._usage.update(self._message.get("usage") or {})
        elif kind == "message_delta":
            delta = payload.get("delta") or {}
            self._reason = delta.get("stop_reason") or self._reason
            self._stop_sequence = delta.get("stop_sequence") or self._stop_sequence
            self._usage.update({k: v for k, v in (payload.get("usage") or {}).items() if v is not None})
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            raise StreamErrorEvent(messages.decode_error(data))
        return []

    def _start(self, index: int, block: dict[str, Any]) -> list[Delta]:
        kind = str(block.get("type"))
        self._kinds[index] = kind
        if kind == "tool_use":
            self._tools[index] = {**block, "_json": ""}
            return [ToolCallDelta(len(self._tools) - 1, block.get("id"), block.get("name"))]
        if kind == "thinking":
            self._thinking[index] = ThinkingPart(str(block.get("thinking", "")), block.get("signature"))
        elif kind == "redacted_thinking":
            self._thinking[index] = ThinkingPart(redacted_data=block.get("data"))
            return [ThinkingDelta(redacted_data=block.get("data"), index=len(self._thinking) - 1)]
        elif kind == "text" and block.get("text"):
            self._text.append(block["text"])
            return [TextDelta(block["text"])]
        return []

    def _delta(self, index: int, delta: dict[str, Any]) -> list[Delta]:
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text") or ""
            if not text:
                return []
            self._text.append(text)
            return [TextDelta(text)]
        if kind == "input_json_delta" and index in self._tools:
            piece = delta.get("partial_json", "")
            self._tools[index]["_json"] += piece
            return [ToolCallDelta(list(self._tools).index(index), arguments=piece)] if piece else []
        if kind in ("thinking_delta", "signature_delta") and index in self._thinking:
            part = self._thinking[index]
            ordinal = list(self._thinking).index(index)
            if kind == "thinking_delta":
                part.text += delta.get("thinking", "")
                return [ThinkingDelta(delta.get("thinking", ""), index=ordinal)]
            part.signature = delta.get("signature")
            return [ThinkingDelta(signature=part.signature, index=ordinal)]
        return []

    @property
    def complete(self) -> bool:
        """``message_stop`` arrived, or the ``message_delta`` with the stop reason and final usage did."""
        return self.done or self._reason is not None  # message_delta carries both

    def result(self) -> ChatResponse:
        """The whole answer, once complete (else :class:`StreamCut`)."""
        if not self.complete:
            raise StreamCut("stream ended before message_stop (connection dropped mid-answer)")
        return self.partial()

    def partial(self) -> ChatResponse:
        """What arrived so far, complete or not (a cut stream's text, to rescue and to bill)."""
        blocks = []
        for index in sorted(self._tools):
            block = dict(self._tools[index])
            try:
                block["input"] = json.loads(block.pop("_json") or "{}")
            except ValueError:  # a tool call cut mid-arguments
                continue
            blocks.append(block)
        return ChatResponse(
            id=str(self._message.get("id", "")),
            model=str(self._message.get("model") or self.model),
            content="".join(self._text),
            usage=messages.decode_usage(self._usage),
            finish_reason=messages.finish_reason(self._reason),
            provider_stop_reason=self._reason,
            tool_calls=messages.tool_calls_of(blocks),
            thinking=[self._thinking[i] for i in sorted(self._thinking)] or None,
            stop_sequence=self._stop_sequence,
            annotations={"malformed_events": self.malformed} if self.malformed else {},
        )


class AnthropicStreamEncoder:
    """The events of one streamed message: ``start()``, ``delta()`` per neutral delta, ``done()``."""

    def __init__(self, model: str, message_id: str | None = None, prompt_usage: Usage | None = None) -> None:
        self.id = message_id or messages.message_id()
        self.model = model
        self._prompt_usage = prompt_usage  # the upstream's message_start usage, relayed as it came
        self._index = -1  # the open block's index (-1: none yet)
        self._open: tuple[str, int] | None = None  # (kind, ordinal of that kind) of the open block
        self._text_prefix = b""
        self._streamed_tools: set[int] = set()

    def start(self, usage: dict[str, Any] | None = None) -> bytes:
        """``message_start`` and a ping. ``usage``: what is known so far (the prompt's tokens), when the
        caller knows it; else zeros, and ``message_delta`` carries all of it (the SDK takes it from there)."""
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage if usage is not None else self._start_usage(),
        }
        return event("message_start", {"type": "message_start", "message": message}) + event("ping", {"type": "ping"})

    def _switch(self, kind: str, ordinal: int, block: dict[str, Any]) -> bytes:
        """Close the open block (if another) and open ``block``; b"" when it is already open."""
        if self._open == (kind, ordinal):
            return b""
        out = self._close()
        self._index += 1
        self._open = (kind, ordinal)
        if kind == "text":
            self._text_prefix = (
                b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
                b'"delta":{"type":"text_delta","text":' % self._index
            )
        start = {"type": "content_block_start", "index": self._index, "content_block": block}
        return out + event("content_block_start", start)

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return event("content_block_stop", {"type": "content_block_stop", "index": self._index})

    def text(self, text: str) -> bytes:
        head = self._switch("text", 0, {"type": "text", "text": ""})
        return head + self._text_prefix + dumps(text).encode() + b"}}\n\n"

    def delta(self, delta: Delta) -> bytes:
        if isinstance(delta, TextDelta):
            return self.text(delta.text)
        if isinstance(delta, ToolCallDelta):
            head = b""
            if self._open != ("tool_use", delta.index):
                self._streamed_tools.add(delta.index)
                tool: dict[str, Any] = {"type": "tool_use", "id": delta.id, "name": delta.name, "input": {}}
                head = self._switch("tool_use", delta.index, tool)
            if not delta.arguments:
                return head
            piece = {"type": "input_json_delta", "partial_json": delta.arguments}
            return head + self._block_delta(piece)
        if delta.redacted_data is not None:
            redacted = {"type": "redacted_thinking", "data": delta.redacted_data}
            return self._switch("redacted_thinking", delta.index, redacted) + self._close()
        head = self._switch("thinking", delta.index, {"type": "thinking", "thinking": "", "signature": ""})
        if delta.signature is not None:
            return head + self._block_delta({"type": "signature_delta", "signature": delta.signature})
        return head + (self._block_delta({"type": "thinking_delta", "thinking": delta.text}) if delta.text else b"")

    def _block_delta(self, delta: dict[str, Any]) -> bytes:
        return event("content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta})

    def done(self, response: ChatResponse) -> bytes:
        """Tool calls not streamed yet (from an upstream that answered in one piece), then the end."""
        pieces = []
        for ordinal, block in enumerate(messages.tool_use_blocks(response)):
            if ordinal in self._streamed_tools:
                continue
            pieces.append(self._switch("tool_use", ordinal, {**block, "input": {}}))
            pieces.append(self._block_delta({"type": "input_json_delta", "partial_json": json.dumps(block["input"])}))
        pieces.append(self._close())
        delta = {"stop_reason": messages.stop_reason(response), "stop_sequence": response.stop_sequence}
        final = {"type": "message_delta", "delta": delta, "usage": messages.encode_usage(response.usage)}
        pieces += [event("message_delta", final), event("message_stop", {"type": "message_stop"})]
        return b"".join(pieces)

    def _start_usage(self) -> dict[str, Any]:
        # The prompt's usage as message_start has it: the SDK keeps only this event's cache_creation split.
        if self._prompt_usage is None:
            return {"input_tokens": 0, "output_tokens": 0}
        return messages.encode_usage(self._prompt_usage)

    def error(self, payload: dict[str, Any]) -> bytes:
        """An ``error`` event (``payload`` as :func:`~.anthropic_messages.encode_error` builds it)."""
        return event("error", payload)
