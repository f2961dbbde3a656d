"""Stream rescue's state, without I/O: what a continuation asks, what the caller gets, what is billed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from inferopt.errors import ProviderConnectionError, ProviderError
from inferopt.parallel.retry import Retrying, RetryPolicy
from inferopt.rescue import CONTINUE_INSTRUCTION, Rescue, overlap
from inferopt.types import ChatRequest, ChatResponse, StreamDone, StreamEvent, TextDelta, ToolCallDelta, Usage


def request() -> ChatRequest:
    return ChatRequest.of("Tell me about the sea.", model="m")


def cut_after(rescue: Rescue, *pieces: str, usage: Usage | None = None) -> None:
    for piece in pieces:
        rescue.relay(TextDelta(piece))
    error = ProviderConnectionError("reset")
    error.partial = ChatResponse("p", "m", "".join(pieces), usage or Usage(10, 3), cost_usd=0.5)
    rescue.failed(error)


def test_prefill_sends_the_text_so_far_without_its_trailing_space_and_drops_it_once() -> None:
    rescue = Rescue(request())
    cut_after(rescue, "The sea ", "is ")
    follow = rescue.continuation(prefill=True)
    assert [m.role for m in follow.messages] == ["user", "assistant"] and follow.messages[-1].content == "The sea is"
    assert [d.text for d in rescue.relay(TextDelta(" deep and"))] == ["deep and"]  # type: ignore[union-attr]
    assert [d.text for d in rescue.relay(TextDelta(" cold."))] == [" cold."]  # type: ignore[union-attr]
    final = rescue.finish(ChatResponse("f", "m", "deep and cold.", Usage(12, 4)))
    assert final.content == "The sea is deep and cold."
    assert final.usage == Usage(22, 7) and final.annotations["rescued"] == 1


def test_an_instructed_continuation_removes_a_repeated_tail() -> None:
    rescue = Rescue(request())
    cut_after(rescue, "Waves rise and fall ", "with the moon's pull")
    follow = rescue.continuation(prefill=False)
    assert [m.role for m in follow.messages][-2:] == ["assistant", "user"]
    assert follow.messages[-1].content == CONTINUE_INSTRUCTION
    assert rescue.relay(TextDelta("the moon's pull, twice")) == []  # held: is it a repeat?
    released = [d.text for d in rescue.flush()]  # type: ignore[union-attr]
    assert released == [", twice"]
    assert rescue.text == "Waves rise and fall with the moon's pull, twice"


def test_a_continuation_asks_only_for_what_is_left_of_the_callers_max_tokens() -> None:
    rescue = Rescue(ChatRequest.of("Tell me about the sea.", model="m", max_tokens=100))
    cut_after(rescue, "The sea ", "is ", usage=Usage(10, 30))
    assert rescue.continuation(prefill=True).max_tokens == 70
    cut_after(rescue, "deep ", usage=Usage(12, 69))
    assert rescue.continuation(prefill=False).max_tokens == 1  # never 0 or below: the API would refuse it
    assert Rescue(request()).continuation(prefill=True).max_tokens is None  # no budget asked, none set


def test_short_coincidences_are_not_overlaps() -> None:
    assert overlap("the sea", "a cold wind") == 0
    assert overlap("deep waters run", "run deep") == 0  # 3 characters: too short to be sure
    assert overlap("deep waters run", "waters run deep") == len("waters run")
    assert overlap("Waves rise and fall", "rise and fall again") == len("rise and fall")


def test_a_streamed_tool_call_cannot_be_continued() -> None:
    rescue = Rescue(request())
    rescue.relay(ToolCallDelta(0, "call_1", "weather", '{"ci'))
    assert rescue.blocker() is not None and "tool call" in (rescue.blocker() or "")


class CutOnce:
    """A Model whose first stream is cut after two pieces; later ones answer the rest."""

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> ChatResponse:
        raise NotImplementedError

    async def _stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        if len(self.requests) == 1:
            yield TextDelta("one ")
            yield TextDelta("two ")
            error = ProviderConnectionError("reset mid-stream")
            error.partial = ChatResponse("p", "m", "one two ", Usage(5, 2))
            raise error
        yield TextDelta(" three")
        yield StreamDone(ChatResponse("f", "m", "three", Usage(7, 1)))

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self._stream(request)

    async def aclose(self) -> None:
        return None


async def test_retrying_rescues_a_cut_stream_into_one_stream_with_summed_usage() -> None:
    class PrefillCutOnce(CutOnce):
        accepts_prefill = True

    inner = PrefillCutOnce()

    async def no_sleep(_: float) -> None:
        await asyncio.sleep(0)

    retrying = Retrying(inner, RetryPolicy(max_attempts=3), sleep=no_sleep)
    events = [e async for e in retrying.stream(request())]
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    done = events[-1]
    assert texts == ["one ", "two ", "three"] and isinstance(done, StreamDone)
    assert done.response.content == "one two three" and done.response.usage == Usage(12, 3)
    assert inner.requests[1].messages[-1].content == "one two"  # prefill, trailing space held back


async def test_a_rescue_that_cannot_continue_raises_the_cut() -> None:
    class ToolCut(CutOnce):
        async def _stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
            yield ToolCallDelta(0, "c", "f", '{"a": ')
            raise ProviderConnectionError("reset")

    with pytest.raises(ProviderError) as cut:
        async for _ in Retrying(ToolCut(), RetryPolicy(max_attempts=3)).stream(request()):
            pass
    assert any("not rescued" in note for note in cut.value.__notes__)
