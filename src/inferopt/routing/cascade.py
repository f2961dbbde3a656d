"""Cascade: try models cheapest first, accept an answer when its stage's check passes, else escalate.

::

    cascade = Cascade(
        [Stage("mixtral", Agreement(["yi-34b"]), threshold=1.0), Stage("gpt-4")],
        targets={"mixtral": m1, "yi-34b": m2, "gpt-4": m3},
    )

Each stage has its own check and threshold; the last stage is accepted whatever its score (there is
nothing left to escalate to). A stage whose model or check fails (a provider error) escalates. The path
taken and every call (answers, check calls, errors) with its cost are in ``route``;
``cost_usd`` is their sum.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace

from inferopt.errors import ConfigError, ProviderError
from inferopt.routing.checks import Check, LogprobConfidence
from inferopt.routing.routed import Attempt, RouteRecord, Targets, stream_via_complete
from inferopt.types import ChatRequest, ChatResponse, Model, StreamEvent


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of a cascade: a model, the check its answer must pass, and the passing score."""

    model: str
    check: Check | None = None
    threshold: float = 0.5


class Cascade:
    """A Model that escalates through ``stages`` (see the module docstring)."""

    def __init__(self, stages: Sequence[Stage], targets: Mapping[str, Model], name: str = "cascade") -> None:
        if not stages:
            raise ConfigError(f"cascade {name!r} needs at least one stage")
        for stage in stages[:-1]:
            if stage.check is None:
                raise ConfigError(
                    f"cascade {name!r}: stage {stage.model!r} has no check, so later stages could never run; "
                    "give it a check or make it the last stage"
                )
        self.stages = list(stages)
        self.name = name
        self.targets = Targets(targets)
        self.targets.require([s.model for s in stages], name)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        record = RouteRecord(self.name)
        last_error: ProviderError | None = None
        for i, stage in enumerate(self.stages):
            final = i == len(self.stages) - 1
            asked = request
            if isinstance(stage.check, LogprobConfidence) and not final:  # ask the model for them
                asked = replace(request, options={**request.options, "logprobs": True})
            try:
                answer = await self.targets.complete(stage.model, asked)
            except ProviderError as exc:
                record.attempts.append(Attempt(stage.model, None, "error", error=str(exc)))
                last_error = exc
                continue
            if final or stage.check is None:
                record.add(answer, "accepted")
                record.reason = "last stage" if final else "no check"
                return record.finish(answer, stage.model)
            try:
                result = await stage.check(request, answer, self.targets)
            except ProviderError as exc:  # the check could not judge: do not trust the answer, escalate
                record.add(answer, "rejected")
                record.attempts.append(Attempt("check", None, "error", error=f"{type(exc).__name__}: {exc}"))
                last_error = exc
                continue
            accepted = result.score >= stage.threshold
            record.add(answer, "accepted" if accepted else "rejected", result.score)
            for call in result.calls:
                record.add(call, "check")
            if accepted:
                record.reason = f"stage {i} check {result.score:.2f} >= {stage.threshold}"
                return record.finish(answer, stage.model)
        assert last_error is not None  # the final stage either returned or failed
        raise last_error

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return stream_via_complete(self, request)

    async def aclose(self) -> None:
        await self.targets.aclose()
