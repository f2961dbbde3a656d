"""OpenAI chat-completion streams, both directions, with no I/O.

A stream is ``chat.completion.chunk`` objects as unnamed SSE events: a first chunk with the role,
content deltas, tool-call fragments (``delta.tool_calls[i]``: ``id``, ``type`` and the function's
``name`` on a call's first fragment, then pieces of ``arguments``), a chunk with ``finish_reason``,
with ``stream_options.include_usage`` a last chunk whose ``choices`` is ``[]`` and whose ``usage``
is set (``null`` on the others), and ``data: [DONE]``. A chunk carrying ``error`` ends a stream
that failed after it started.

The decoder is as lenient as its peers (the openai SDK, LiteLLM): an event that is not JSON is
skipped and counted (``malformed_events`` in the answer's annotations), not fatal.
"""

from __future__ import annotations

import time
from typing import Any

from inferopt.types import ChatResponse, Delta, TextDelta, ToolCallDelta, Usage
from inferopt.wire import openai_chat as chat
from inferopt.wire.common import MalformedPayload, StreamCut, StreamErrorEvent, json_object
from inferopt.wire.sse import DONE, dumps


class ChatStreamDecoder:
    """Feed it each event's data; it returns the neutral deltas the chunk carries.

    A stream counts as complete at ``[DONE]``, or, as every peer reads it, once its finish reason
    and its usage chunk have both arrived (some servers never send ``[DONE]``).
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self.done = False
        self._meta: dict[str, Any] = {}
        self._usage: Usage | None = None
        self._reason: str | None = None
        self._text: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}
        self._logprobs: list[dict[str, Any]] | None = None
        self._refusal: list[str] = []
        self.malformed = 0

    def feed(self, data: str) -> list[Delta]:
        if data == "[DONE]":
            self.done = True
            return []
        try:
            chunk = json_object(data, "a stream chunk")
        except MalformedPayload:
            self.malformed += 1
            return []
        if "error" in chunk:
            raise StreamErrorEvent(chat.decode_error(data))
        self._meta.setdefault("id", chunk.get("id"))
        self._meta.setdefault("model", chunk.get("model"))
        if chunk.get("usage"):
            self._usage = chat.decode_usage(chunk["usage"])
        out: list[Delta] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if text := delta.get("content"):
                self._text.append(text)
                out.append(TextDelta(text))
            if refusal := delta.get("refusal"):
                self._refusal.append(refusal)
            for call in delta.get("tool_calls") or ():
                out.append(self._merge(call))
            if (entries := chat.logprob_entries(choice)) is not None:
                self._logprobs = (self._logprobs or []) + entries
            self._reason = choice.get("finish_reason") or self._reason
        return out

    def _merge(self, fragment: dict[str, Any]) -> ToolCallDelta:
        index = int(fragment.get("index", 0))
        call = self._calls.setdefault(
            index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        fn = fragment.get("function") or {}
        if fragment.get("id"):
            call["id"] = fragment["id"]
        if fn.get("name"):
            call["function"]["name"] += fn["name"]
        if fn.get("arguments"):
            call["function"]["arguments"] += fn["arguments"]
        return ToolCallDelta(index, fragment.get("id"), fn.get("name"), fn.get("arguments") or "")

    @property
    def complete(self) -> bool:
        return self.done or (self._reason is not None and self._usage is not None)

    def result(self) -> ChatResponse:
        """The whole answer, once the stream is complete (else :class:`StreamCut`)."""
        if not self.complete:
            raise StreamCut("stream ended before [DONE] (connection dropped mid-answer)")
        return self.partial()

    def partial(self) -> ChatResponse:
        """What arrived so far, complete or not (a cut stream's text, to rescue and to bill)."""
        return ChatResponse(
            id=str(self._meta.get("id") or ""),
            model=str(self._meta.get("model") or self.model),
            content="".join(self._text),
            usage=self._usage or Usage(),
            finish_reason=chat.finish_reason(self._reason),
            provider_stop_reason=self._reason,
            tool_calls=[self._calls[i] for i in sorted(self._calls)] or None,
            refusal="".join(self._refusal) or None,
            annotations={
                **(chat.logprob_annotations(self._logprobs) if self._logprobs is not None else {}),
                **({"malformed_events": self.malformed} if self.malformed else {}),
            },
        )


class ChatStreamEncoder:
    """The chunks of one streamed completion: ``start()``, ``delta()`` per neutral delta, ``done()``.

    Every chunk shares ``id``, ``created`` and ``model`` (and ``head_extra``); content chunks, most of
    a stream, are rendered from a prefix and suffix built once.
    """

    def __init__(
        self,
        model: str,
        include_usage: bool,
        *,
        completion_id: str | None = None,
        created: int | None = None,
        head_extra: dict[str, Any] | None = None,
        choice: int = 0,
    ) -> None:
        self.id = completion_id or chat.completion_id()
        self.choice = choice
        self.created = int(time.time()) if created is None else created
        self.model = model
        self.include_usage = include_usage
        self._head = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": model,
            **(head_extra or {}),
        }
        self._prefix = "data: " + dumps(self._head)[:-1] + f',"choices":[{{"index":{choice},"delta":'
        self._suffix = ',"logprobs":null,"finish_reason":null}]' + (',"usage":null' if include_usage else "") + "}\n\n"
        self._streamed_tools: set[int] = set()

    def _chunk(self, delta: dict[str, Any]) -> bytes:
        return (self._prefix + dumps(delta) + self._suffix).encode()

    def start(self) -> bytes:
        return (self._prefix + '{"role":"assistant","content":"","refusal":null}' + self._suffix).encode()

    def text(self, text: str, logprobs: list[dict[str, Any]] | None = None) -> bytes:
        """A content chunk; ``logprobs``: the entries of the tokens this piece completes."""
        if logprobs is not None:
            entries = '"logprobs":' + dumps({"content": logprobs, "refusal": None})
            return (
                self._prefix + '{"content":' + dumps(text) + "}" + self._suffix.replace('"logprobs":null', entries)
            ).encode()
        return (self._prefix + '{"content":' + dumps(text) + "}" + self._suffix).encode()

    def delta(self, delta: Delta) -> bytes:
        if isinstance(delta, TextDelta):
            return self.text(delta.text)
        if isinstance(delta, ToolCallDelta):
            fragment: dict[str, Any] = {"index": delta.index}
            function: dict[str, Any] = {}
            if delta.index not in self._streamed_tools:
                self._streamed_tools.add(delta.index)
                fragment.update(id=delta.id, type="function")
                function["name"] = delta.name or ""
            function["arguments"] = delta.arguments
            fragment["function"] = function
            return self._chunk({"tool_calls": [fragment]})
        return b""  # chat completions have no reasoning field: thinking stays in the final answer only

    def finish_chunk(self, reason: str, logprobs: dict[str, Any] | None = None) -> bytes:
        """The chunk that ends this encoder's choice."""
        choice = {"index": self.choice, "delta": {}, "logprobs": logprobs, "finish_reason": reason}
        finish: dict[str, Any] = {**self._head, "choices": [choice]}
        if self.include_usage:
            finish["usage"] = None
        return ("data: " + dumps(finish) + "\n\n").encode()

    def stream_end(self, usage: dict[str, Any]) -> bytes:
        """The usage chunk when asked for, and ``[DONE]``: once per stream, after every choice ended."""
        if not self.include_usage:
            return DONE
        return ("data: " + dumps({**self._head, "choices": [], "usage": usage}) + "\n\n").encode() + DONE

    def finish(self, reason: str, usage: dict[str, Any], logprobs: dict[str, Any] | None = None) -> bytes:
        """The finish chunk, the usage chunk when asked for, and ``[DONE]``."""
        return self.finish_chunk(reason, logprobs) + self.stream_end(usage)

    def choice_end(self, response: ChatResponse) -> bytes:
        """Tool calls not streamed yet (from an upstream that answered in one piece), then the finish chunk."""
        unsent = [
            {"index": i, **call} for i, call in enumerate(response.tool_calls or ()) if i not in self._streamed_tools
        ]
        pending = self._chunk({"tool_calls": unsent}) if unsent else b""
        return pending + self.finish_chunk(chat.native_finish_reason(response), chat.response_logprobs(response))

    def done(self, response: ChatResponse) -> bytes:
        """The end of a one-choice stream."""
        return self.choice_end(response) + self.stream_end(chat.encode_usage(response.usage))

    def error(self, payload: dict[str, Any]) -> bytes:
        """A chunk carrying ``error`` (the openai SDK raises ``APIError`` on it); no ``[DONE]`` follows."""
        return b"data: " + dumps(payload).encode() + b"\n\n"
