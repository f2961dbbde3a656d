"""What every live router shares: named target Models, attempt records and the route annotation.

A router is a Model over other Models. Its targets are a mapping ``name -> Model``; the request it
forwards carries ``model=name`` (so an adapter gets the provider's model id). The answer it returns
is the chosen target's, with ``route`` telling which router chose what, and every
attempt (model, cost, outcome), and ``cost_usd`` the sum of every attempt's cost: a cascade that
tried two models pays for both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from inferopt.errors import ConfigError
from inferopt.types import ChatRequest, ChatResponse, Model, StreamDone, StreamEvent, TextDelta


@dataclass(slots=True)
class Attempt:
    """One call a router made: to which model, what it cost, and how it ended."""

    model: str
    cost_usd: float | None = None
    outcome: str = "accepted"  # accepted | rejected | check | error | skipped
    score: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "cost_usd": self.cost_usd, "outcome": self.outcome}
        if self.score is not None:
            out["score"] = self.score
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(slots=True)
class RouteRecord:
    """Everything a router did for one request; becomes ``route``."""

    router: str
    attempts: list[Attempt] = field(default_factory=list)
    reason: str = ""

    def add(self, response: ChatResponse, outcome: str = "accepted", score: float | None = None) -> None:
        self.attempts.append(Attempt(response.model, response.cost_usd, outcome, score))

    @property
    def total_cost(self) -> float | None:
        costs = [a.cost_usd for a in self.attempts if a.outcome not in ("error", "skipped")]  # those were not billed
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)

    def finish(self, response: ChatResponse, chosen: str) -> ChatResponse:
        """Annotate the returned answer and charge it for every attempt."""
        response.route = {
            "router": self.router,
            "chosen": chosen,
            "reason": self.reason,
            "attempts": [a.as_dict() for a in self.attempts],
        }
        response.cost_usd = self.total_cost
        return response


class Targets:
    """The Models a router may send to, by name; a missing name is a ConfigError naming the known ones."""

    def __init__(self, models: Mapping[str, Model]) -> None:
        if not models:
            raise ConfigError("a router needs at least one target model")
        self._models = dict(models)

    def __contains__(self, name: object) -> bool:
        return name in self._models

    @property
    def names(self) -> list[str]:
        return list(self._models)

    def require(self, names: list[str], router: str) -> None:
        missing = [n for n in names if n not in self._models]
        if missing:
            raise ConfigError(f"router {router!r} names models {missing} it has no target for; known: {self.names}")

    async def complete(self, name: str, request: ChatRequest) -> ChatResponse:
        return await self._models[name].complete(request.with_model(name))

    def stream(self, name: str, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self._models[name].stream(request.with_model(name))

    def model(self, name: str) -> Model:
        return self._models[name]

    async def aclose(self) -> None:
        for model in self._models.values():
            await model.aclose()


async def stream_via_complete(router: Model, request: ChatRequest) -> AsyncIterator[StreamEvent]:
    """Stream a router's answer: it must judge a whole answer before accepting it, so it completes first."""
    response = await router.complete(request)
    if response.content:
        yield TextDelta(response.content)
    yield StreamDone(response)
