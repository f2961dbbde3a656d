"""Public test doubles: a Model made from a function, for unit tests of wrappers and apps.

Integration tests use the emulator over real HTTP; these are for testing a wrapper's own logic
fast and deterministically (as pydantic-ai's ``FunctionModel`` is).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from inferopt.tokens import count_message_tokens, count_tokens
from inferopt.types import (
    ChatRequest,
    ChatResponse,
    StreamDone,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    Usage,
)

Answer = Callable[[ChatRequest], str | ChatResponse | Awaitable[str | ChatResponse]]


@dataclass
class FunctionModel:
    """A Model whose answer is ``answer(request)``: a string (usage counted for you) or a response.

    ``calls`` records every request received, so tests can assert what reached the model.
    ``chunk_size`` splits streamed text into pieces of that many characters.
    """

    answer: Answer
    name: str = "function-model"
    chunk_size: int = 8
    calls: list[ChatRequest] = field(default_factory=list)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls.append(request)
        result = self.answer(request)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, ChatResponse):
            return result
        usage = Usage(
            input_tokens=count_message_tokens(request.messages, request.model),
            output_tokens=count_tokens(result, request.model),
        )
        return ChatResponse(
            id=f"fn-{len(self.calls)}", model=request.model, content=result, usage=usage, provider=self.name
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """The answer as a provider streams it: thinking (text, then its signature), text, then each
        tool call (its id and name, then its arguments), in pieces of ``chunk_size`` characters."""
        response = await self.complete(request)
        size = self.chunk_size
        for index, part in enumerate(response.thinking or ()):
            if part.redacted_data is not None:
                yield ThinkingDelta(redacted_data=part.redacted_data, index=index)
                continue
            for start in range(0, len(part.text), size):
                yield ThinkingDelta(part.text[start : start + size], index=index)
            if part.signature is not None:
                yield ThinkingDelta(signature=part.signature, index=index)
        text = response.content
        for start in range(0, len(text), size):
            yield TextDelta(text[start : start + size])
        for index, call in enumerate(response.tool_calls or ()):
            fn = call.get("function") or {}
            yield ToolCallDelta(index, call.get("id"), fn.get("name"))
            arguments = str(fn.get("arguments") or "")
            for start in range(0, len(arguments), size):
                yield ToolCallDelta(index, arguments=arguments[start : start + size])
        yield StreamDone(response)

    async def aclose(self) -> None:
        return None


def wait_for(condition: Callable[[], object], timeout_s: float = 5.0) -> bool:
    """True as soon as ``condition()`` is; False after ``timeout_s`` (for counters a server bumps
    just after the client has its answer, such as the gateway's stream metrics)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())
