"""The learned answer cascade as a live Model: ask the cheap models together, escalate by their answers' pattern.

Every cheap model is asked at once (their latencies overlap); the prompt's task and the pattern of
their answers decide, through a trained :class:`~inferopt.routing.answer_cascade.PatternCascade`,
whether to accept one of them or to pay the strong model. A cheap model that fails answers ""
(which agrees with nothing), so the pattern still decides; its error is recorded. Every call is in
``route`` and ``cost_usd`` is their sum, exactly as the offline replay charges it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

from inferopt.errors import ProviderError
from inferopt.routing.answer_cascade import PatternCascade
from inferopt.routing.routed import Attempt, RouteRecord, Targets, stream_via_complete
from inferopt.types import ChatRequest, ChatResponse, Model, StreamEvent


class AnswerCascade:
    """A Model over ``targets`` that follows ``cascade`` at the knob ``escalate_at`` (gain per dollar).

    ``names`` maps the model names the cascade was trained on (the recorded data's) to target names.
    """

    def __init__(
        self,
        cascade: PatternCascade,
        targets: Mapping[str, Model],
        *,
        escalate_at: float,
        names: Mapping[str, str] | None = None,
        name: str = "answer-cascade",
    ) -> None:
        self.cascade = cascade
        self.escalate_at = escalate_at
        self.name = name
        self.names = {m: (names or {}).get(m, m) for m in (*cascade.cheap, cascade.strong)}
        self.targets = Targets(targets)
        self.targets.require(list(self.names.values()), name)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        record = RouteRecord(self.name)
        cheap = [self.names[m] for m in self.cascade.cheap]
        results = await asyncio.gather(*(self.targets.complete(t, request) for t in cheap), return_exceptions=True)
        answers: list[ChatResponse | None] = []
        for target, result in zip(cheap, results, strict=True):
            if isinstance(result, ProviderError):
                record.attempts.append(Attempt(target, None, "error", error=str(result)))
                answers.append(None)
            elif isinstance(result, BaseException):
                raise result  # not a provider failure: a bug or a cancellation, not a routing decision
            else:
                answers.append(result)
        texts = [a.content if a is not None else "" for a in answers]
        accept = self.cascade.decide(request.last_user_text, texts, self.escalate_at)
        chosen = answers[accept] if accept is not None else None
        for answer in answers:
            if answer is not None:
                record.add(answer, "accepted" if answer is chosen else "rejected")
        if accept is not None and chosen is not None:
            record.reason = "the cheap answers' pattern is trusted"
            return record.finish(chosen, cheap[accept])
        strong = self.names[self.cascade.strong]
        answer = await self.targets.complete(strong, request)
        record.add(answer, "accepted")
        record.reason = (
            "escalated: the cheap answers' pattern gains most from the strong model"
            if accept is None
            else f"escalated: {cheap[accept]}, whose answer this pattern trusts, failed"
        )
        return record.finish(answer, strong)

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return stream_via_complete(self, request)

    async def aclose(self) -> None:
        await self.targets.aclose()
