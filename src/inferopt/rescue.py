"""Stream rescue: what a live stream has delivered, so the next attempt continues it instead of failing.

A stream cut after its first delta (connection reset, an in-band error event, no final event) or
stalled (no event for ``stall_timeout_s``) cannot be retried from the start: the caller has seen
text, and a second answer would repeat it. :class:`Rescue` keeps what was relayed and builds the
request that continues it, by what the next target can take:

- **prefill** (Anthropic; ``accepts_prefill`` on an adapter): the text so far is sent as the final
  assistant message and the model writes what follows. Anthropic refuses a final assistant message
  ending in whitespace, so that whitespace is held back and dropped from the continuation's start.
- **instructed continuation** (every other target): the text so far as an assistant turn, then a user
  turn asking to continue exactly where it stopped; the continuation's first characters are held
  until they show whether the model repeated the end of the text (an overlap of at least
  ``MIN_OVERLAP`` characters is removed).
- **not continued**: a tool call or reasoning already streamed cannot be continued by either, so the
  stream ends with the error (in-band) instead of a second, different tool call.

A target that refuses prefill (400) is asked again with an instructed continuation. Every cut
attempt is billed (its ``partial`` usage, estimated when the provider sent none) and the final answer
carries the sum of every attempt's usage and ``annotations["rescued"]`` (how many rescues).
This module does no I/O; the fallback router and the retry wrapper drive it.
"""

from __future__ import annotations

from dataclasses import replace

from inferopt.errors import ProviderError, ProviderHTTPError
from inferopt.types import ChatRequest, ChatResponse, Delta, Message, TextDelta, ThinkingDelta, ToolCallDelta, Usage

# Request options (never sent upstream) a rescue-aware layer sets for the layers under it.
STALL_OPTION = "stall_timeout_s"  # seconds of silence between two events that count as a stall
CONTINUE_INSTRUCTION = (
    "Your previous reply was cut off. Continue it exactly where it stopped: do not repeat anything "
    "already written, do not add a preamble."
)
MIN_OVERLAP = 8
OVERLAP_WINDOW = 80


def accepts_prefill(model: object) -> bool:
    """Whether ``model`` (or the Model it wraps, through ``inner``) continues a final assistant message."""
    for _ in range(32):
        flag = getattr(type(model), "accepts_prefill", None)
        if isinstance(flag, bool):
            return flag
        model = getattr(model, "inner", None)
        if model is None:
            return False
    return False


def refuses_prefill(error: BaseException) -> bool:
    """A 400 to a continuation by prefill: the target takes no final assistant message."""
    return isinstance(error, ProviderHTTPError) and error.status == 400 and "prefill" in str(error).lower()


class Rescue:
    """The state of one streamed request across its attempts (see the module docstring)."""

    def __init__(self, request: ChatRequest) -> None:
        self.request = request
        self.sent: list[str] = []  # every text piece relayed to the caller
        self.tools_sent = False
        self.thinking_sent = False
        self.cut: list[ChatResponse] = []  # the partial answers of the attempts that failed mid-way
        self.rescues = 0
        self._held = ""  # the start of a continuation, held until its overlap is known
        self._drop_ws = ""  # whitespace held back from a prefill, expected again at the continuation's start
        self._checking = False

    @property
    def started(self) -> bool:
        return bool(self.sent) or self.tools_sent or self.thinking_sent

    @property
    def text(self) -> str:
        return "".join(self.sent)

    def blocker(self) -> str | None:
        """Why this stream cannot be continued, or None when it can."""
        if self.tools_sent:
            return "a tool call was already streamed and cannot be continued"
        if self.thinking_sent:
            return "reasoning was already streamed and cannot be continued"
        return None

    def failed(self, error: BaseException) -> None:
        """An attempt failed after it started: keep its partial answer (billed), start checking overlap."""
        partial = error.partial if isinstance(error, ProviderError) else None
        if partial is not None:
            self.cut.append(partial)
        self._held, self._checking = "", False

    def continuation(self, prefill: bool) -> ChatRequest:
        """The request that continues the text so far (see the module docstring)."""
        self.rescues += 1
        text = self.text
        messages = list(self.request.messages)
        if prefill:
            kept = text.rstrip()
            self._drop_ws = text[len(kept) :]
            messages.append(Message("assistant", kept))
        else:
            self._drop_ws = ""
            messages += [Message("assistant", text), Message("user", CONTINUE_INSTRUCTION)]
        self._checking = not prefill
        self._held = ""
        return replace(
            self.request, messages=messages, max_tokens=self._budget_left(), options=dict(self.request.options)
        )

    def _budget_left(self) -> int | None:
        """The caller's ``max_tokens`` less what the cut attempts generated: a rescue never exceeds it."""
        if self.request.max_tokens is None:
            return None
        return max(1, self.request.max_tokens - sum(p.usage.output_tokens for p in self.cut))

    def relay(self, delta: Delta) -> list[Delta]:
        """A delta of the current attempt -> what the caller gets (held or trimmed at a continuation's start)."""
        if isinstance(delta, ToolCallDelta):
            self.tools_sent = True
            return [*self.flush(), delta]
        if isinstance(delta, ThinkingDelta):
            self.thinking_sent = True
            return [delta]
        text = delta.text
        if self._drop_ws:
            if text.startswith(self._drop_ws):
                text = text[len(self._drop_ws) :]
            self._drop_ws = ""
        if self._checking:
            self._held += text
            if len(self._held) < OVERLAP_WINDOW:
                return []
            return self.flush()
        return self._emit(text)

    def flush(self) -> list[Delta]:
        """Release held text (at the end of an attempt, or once enough arrived to judge the overlap)."""
        if not self._checking:
            return []
        self._checking = False
        held, self._held = self._held, ""
        return self._emit(held[overlap(self.text, held) :])

    def _emit(self, text: str) -> list[Delta]:
        if not text:
            return []
        self.sent.append(text)
        return [TextDelta(text)]

    def finish(self, response: ChatResponse) -> ChatResponse:
        """The final answer of a rescued stream: its whole text and every attempt's usage."""
        if not self.rescues:
            return response
        response.content = self.text
        response.usage = sum((p.usage for p in self.cut), Usage()) + response.usage
        response.annotations["rescued"] = self.rescues
        return response


def overlap(sent: str, continuation: str) -> int:
    """How many leading characters of ``continuation`` repeat the end of ``sent`` (0 below MIN_OVERLAP)."""
    for k in range(min(len(sent), len(continuation)), MIN_OVERLAP - 1, -1):
        if sent.endswith(continuation[:k]):
            return k
    return 0
