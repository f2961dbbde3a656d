"""The learned router as a live Model: a saved :class:`KnnRouter` choosing among target Models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from inferopt.routing.learned import KnnRouter
from inferopt.routing.routed import RouteRecord, Targets
from inferopt.types import ChatRequest, ChatResponse, Model, StreamDone, StreamEvent


class LearnedRouter:
    """Sends each request where ``router`` expects the best quality for its cost.

    ``names`` maps the model names the router was trained on (the recorded data's) to target names;
    by default they are the same. ``cost_weight`` overrides the router's saved knob.
    """

    def __init__(
        self,
        router: KnnRouter,
        targets: Mapping[str, Model],
        *,
        names: Mapping[str, str] | None = None,
        cost_weight: float | None = None,
        name: str = "learned",
    ) -> None:
        self.router = router
        self.names = {m: (names or {}).get(m, m) for m in router.models}
        self.cost_weight = cost_weight
        self.name = name
        self.targets = Targets(targets)
        self.targets.require(list(self.names.values()), name)

    def choose(self, request: ChatRequest) -> str:
        """The target this request goes to (microseconds to a fraction of a millisecond)."""
        return self.names[self.router.route(request.last_user_text, self.cost_weight)]

    async def complete(self, request: ChatRequest) -> ChatResponse:
        target = self.choose(request)
        answer = await self.targets.complete(target, request)
        record = RouteRecord(self.name, reason="knn")
        record.add(answer)
        return record.finish(answer, target)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        target = self.choose(request)
        record = RouteRecord(self.name, reason="knn")
        async for event in self.targets.stream(target, request):
            if isinstance(event, StreamDone):
                record.add(event.response)
                event = StreamDone(record.finish(event.response, target))
            yield event

    async def aclose(self) -> None:
        await self.targets.aclose()
