"""The core vocabulary: requests, responses, usage and stream events.

These shapes are close to OpenAI chat completions, with Anthropic's features mapped in: a
``system`` message becomes Anthropic's top-level ``system``; content parts may carry
``cache_control``; stop reasons are normalised (``stop``, ``length``, ``tool_calls``,
``content_filter``) and the provider's own reason is kept in ``ChatResponse.provider_stop_reason``.

They are plain slotted dataclasses: built by adapters from wire JSON that the adapter already
understands, so the hot path pays no validation cost. Untrusted input (the gateway, config)
is validated at its edge, not here.

Token accounting convention (``Usage``): ``input_tokens`` counts **every** prompt token,
including the ones read from or written to a provider prompt cache. ``cache_read_tokens`` and
``cache_write_tokens`` are subsets of it. OpenAI reports usage this way; Anthropic reports
``input_tokens`` *excluding* cache reads and writes, and its adapter adds them back. One
convention makes cost math unable to bill cache-write tokens twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]

# A content part in OpenAI's shape: {"type": "text", "text": "...", "cache_control": {...}}.
# Kept as a dict so image/audio/file parts pass through adapters untouched.
ContentPart = dict[str, Any]


@dataclass(slots=True)
class Message:
    """One chat turn. ``content`` is a string or a list of content parts.

    ``cache_control`` marks a whole tool result as an Anthropic cache breakpoint (a ``tool_result``
    block's own ``cache_control``; parts carry theirs inside); other wires ignore it.
    """

    role: Role
    content: str | list[ContentPart]
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    cache_control: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        """The message's text, with text parts joined (non-text parts ignored)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.get("text", "") for p in self.content if p.get("type") == "text")

    def to_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name is not None:
            out["name"] = self.name
        if self.tool_calls is not None:
            out["tool_calls"] = self.tool_calls
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        return out

    @classmethod
    def from_openai(cls, data: dict[str, Any]) -> Message:
        content = data.get("content")
        return cls(
            role=data["role"],
            content="" if content is None else content,
            name=data.get("name"),
            tool_calls=data.get("tool_calls"),
            tool_call_id=data.get("tool_call_id"),
        )


@dataclass(slots=True)
class ChatRequest:
    """A provider-neutral chat request.

    ``model`` is the name the caller asked for: an alias from the config or a provider's model id.
    ``extra`` carries provider-specific body fields verbatim (for example ``prompt_cache_key`` or
    Anthropic's ``thinking``); they are part of the request's identity for caching.
    ``options`` carries inferopt's own per-request switches (for example cache bypass); they are
    never sent upstream.
    """

    model: str
    messages: list[Message]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def with_model(self, model: str) -> ChatRequest:
        return replace(self, model=model)

    @property
    def system_text(self) -> str:
        return "\n\n".join(m.text for m in self.messages if m.role == "system")

    @property
    def last_user_text(self) -> str:
        for m in reversed(self.messages):
            if m.role == "user":
                return m.text
        return ""

    @classmethod
    def of(cls, prompt: str, *, model: str, system: str | None = None, **kwargs: Any) -> ChatRequest:
        """Build a request from a plain prompt (and optional system prompt)."""
        messages = [Message("system", system)] if system else []
        messages.append(Message("user", prompt))
        return cls(model=model, messages=messages, **kwargs)


@dataclass(slots=True)
class Usage:
    """Token counts of one call. See the module docstring for the convention."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    # The part of cache_write_tokens written with a 1-hour TTL (Anthropic prices it higher).
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def uncached_input_tokens(self) -> int:
        return max(0, self.input_tokens - self.cache_read_tokens - self.cache_write_tokens)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )


@dataclass(slots=True)
class ThinkingPart:
    """A block of the model's reasoning, kept as the provider sent it so it can go back next turn.

    ``signature`` (Anthropic) must be returned byte-exact with its text; a redacted block carries
    only ``redacted_data`` (encrypted, opaque) and no text.
    """

    text: str = ""
    signature: str | None = None
    redacted_data: str | None = None


@dataclass(slots=True)
class ChatResponse:
    """A provider-neutral answer.

    ``model`` is the model that actually served the answer (the provider's id). What the shipped
    wrappers did is in typed fields (``cache``, ``route``, ``attempts``, ``cost_usd``);
    ``annotations`` holds the rest (log-probabilities, cache savings, a user wrapper's notes).
    """

    id: str
    model: str
    content: str
    usage: Usage
    finish_reason: FinishReason = "stop"
    provider: str = ""
    provider_stop_reason: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    request_id: str | None = None
    emulated: bool = False
    latency_s: float | None = None
    ttft_s: float | None = None
    cost_usd: float | None = None
    annotations: dict[str, Any] = field(default_factory=dict)
    thinking: list[ThinkingPart] | None = None
    refusal: str | None = None
    # The stop sequence that ended the answer, when the provider says which (Anthropic does).
    stop_sequence: str | None = None
    # What the wrappers did, typed: the answer cache's outcome (hit, semantic_hit, miss, refresh,
    # bypass), the router's record (router, chosen, reason, attempts with their costs) and how
    # many calls the retry layer made.
    cache: str | None = None
    route: dict[str, Any] | None = None
    attempts: int | None = None


@dataclass(slots=True)
class TextDelta:
    """A piece of streamed answer text."""

    text: str
    type: Literal["delta"] = "delta"


@dataclass(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call. ``index`` says which call; its first fragment carries
    ``id`` and ``name``; ``arguments`` is the next piece of its JSON arguments text."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    type: Literal["tool_call_delta"] = "tool_call_delta"


@dataclass(slots=True)
class ThinkingDelta:
    """A piece of streamed reasoning: ``text``, or the block's ``signature`` (sent once, at its end),
    or a whole redacted block's ``redacted_data``. ``index`` counts thinking blocks from 0."""

    text: str = ""
    signature: str | None = None
    redacted_data: str | None = None
    index: int = 0
    type: Literal["thinking_delta"] = "thinking_delta"


@dataclass(slots=True)
class StreamDone:
    """The last event of a stream: the whole answer with its usage."""

    response: ChatResponse
    type: Literal["done"] = "done"


StreamEvent = TextDelta | ToolCallDelta | ThinkingDelta | StreamDone
# The events a stream yields before its StreamDone.
Delta = TextDelta | ToolCallDelta | ThinkingDelta


@runtime_checkable
class Model(Protocol):
    """The one seam. Providers implement it over HTTP; optimizations wrap a Model and are one.

    ``stream`` yields deltas (``TextDelta``, ``ToolCallDelta``, ``ThinkingDelta``) as they arrive and
    ends with exactly one ``StreamDone``, whose response holds the whole answer (text, tool calls,
    thinking) whatever was streamed before it.
    Closing the iterator early (``aclose``) must stop the upstream request.
    """

    async def complete(self, request: ChatRequest) -> ChatResponse: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]: ...

    async def aclose(self) -> None: ...


async def close_stream(stream: AsyncIterator[StreamEvent]) -> None:
    """Close a stream early (its generator's ``finally`` runs now); a plain iterator has nothing to close."""
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
