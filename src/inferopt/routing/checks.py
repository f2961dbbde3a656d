"""Quality checks a cascade asks before accepting a cheap model's answer.

A check scores an answer in [0, 1]; the cascade's stage accepts when the score reaches the stage's
threshold. Checks that call models (agreement, judge) return those calls too, so their cost is
charged to the request.

- :class:`Verifier`: any callable ``(request, answer text) -> bool | float`` (format checks, unit
  tests for code, a JSON schema...).
- :class:`Agreement`: self-consistency: ask other (cheap) models and score the share that agree.
- :class:`Judge`: LLM-as-judge through a cheap model that answers with a score from 1 to 10.
- :class:`LogprobConfidence`: the mean token probability, where the provider returns log-probs.
  The cascade asks its stage for them (``options["logprobs"]``: the OpenAI-compatible adapter
  sends ``logprobs: true`` and puts the values in ``annotations["logprobs"]``); Anthropic's API has
  none, and no log-probs gives score 0, so the cascade escalates rather than trusting an answer it
  cannot judge.
- :class:`LearnedScorer` (``scorer.py``): trained on recorded (prompt, answer, correct) rows.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from inferopt.errors import ProviderError
from inferopt.routing.routed import Targets
from inferopt.types import ChatRequest, ChatResponse, Message


@dataclass(slots=True)
class CheckResult:
    """A check's score in [0, 1] and the model calls it made to get it."""

    score: float
    calls: list[ChatResponse] = field(default_factory=list)


class Check(Protocol):
    """Scores an answer to a request; may call models through the router's targets."""

    async def __call__(self, request: ChatRequest, answer: ChatResponse, targets: Targets) -> CheckResult: ...


VerifierFunction = Callable[[ChatRequest, str], bool | float | Awaitable[bool | float]]


@dataclass(slots=True)
class Verifier:
    """Wraps a user's function: True/1.0 passes, False/0.0 fails, anything between is a score."""

    function: VerifierFunction

    async def __call__(self, request: ChatRequest, answer: ChatResponse, targets: Targets) -> CheckResult:
        result = self.function(request, answer.content)
        if inspect.isawaitable(result):
            result = await result
        return CheckResult(float(result))


_FIRST_TOKEN = re.compile(r"^\W*([A-Za-z0-9]+)\b")


def short_answer(text: str) -> str:
    """A comparable form of an answer: the first word, upper-cased, for short (multiple-choice) answers;
    the whitespace-normalised text otherwise."""
    text = text.strip()
    match = _FIRST_TOKEN.match(text)
    if match and len(text) < 40:
        return match.group(1).upper()
    return " ".join(text.split())


@dataclass(slots=True)
class Agreement:
    """Ask ``others`` the same request; the score is the share of them whose answer matches."""

    others: Sequence[str]
    normalize: Callable[[str], str] = short_answer

    async def __call__(self, request: ChatRequest, answer: ChatResponse, targets: Targets) -> CheckResult:
        if not self.others:
            return CheckResult(1.0)
        mine = self.normalize(answer.content)
        calls = []
        for name in self.others:
            try:
                calls.append(await targets.complete(name, request))
            except ProviderError:
                continue  # a peer that cannot answer does not agree; the others' calls are still charged
        agree = sum(self.normalize(c.content) == mine for c in calls)
        return CheckResult(agree / len(self.others), calls)


JUDGE_PROMPT = (
    "Rate how likely the answer below is correct and complete for the question, from 1 (surely wrong) "
    "to 10 (surely right). Reply with the number only.\n\nQuestion:\n{question}\n\nAnswer:\n{answer}"
)
_NUMBER = re.compile(r"\b(10|[1-9])\b")


@dataclass(slots=True)
class Judge:
    """LLM-as-judge: ``model`` (a cheap target) rates the answer 1-10; the score is rating / 10."""

    model: str
    prompt: str = JUDGE_PROMPT

    async def __call__(self, request: ChatRequest, answer: ChatResponse, targets: Targets) -> CheckResult:
        text = self.prompt.format(question=request.last_user_text, answer=answer.content)
        verdict = await targets.complete(
            self.model, ChatRequest(model=self.model, messages=[Message("user", text)], max_tokens=4, temperature=0)
        )
        match = _NUMBER.search(verdict.content)
        return CheckResult(int(match.group(1)) / 10 if match else 0.0, [verdict])


@dataclass(slots=True)
class LogprobConfidence:
    """Mean token probability ``exp(mean log-prob)`` from ``answer.annotations["logprobs"]``."""

    async def __call__(self, request: ChatRequest, answer: ChatResponse, targets: Targets) -> CheckResult:
        logprobs = answer.annotations.get("logprobs")
        if not logprobs:
            return CheckResult(0.0)
        return CheckResult(math.exp(sum(logprobs) / len(logprobs)))
