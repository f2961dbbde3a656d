"""``Capable``: the layer right above a provider that makes each request fit the model it goes to.

It looks the request's model up in the :class:`~.table.CapabilityTable` and applies the policy
(:mod:`.policy`): what it dropped or translated is on the answer (``annotations["dropped_params"]``,
``annotations["translated_params"]``: the gateway's ``x-inferopt-dropped-params`` header and the
record's ``dropped_params``) and on the request's options (``ADAPTED_OPTION``), where a stream's
headers can read it before the answer is done. A parameter the policy refuses is an
:class:`~inferopt.errors.UnsupportedParameterError` raised before anything is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from inferopt.capabilities.policy import Action, Adapted, adapt
from inferopt.capabilities.table import CapabilityTable
from inferopt.types import ChatRequest, ChatResponse, Model, StreamDone, StreamEvent, close_stream

ADAPTED_OPTION = "capabilities_adapted"


class Capable:
    def __init__(self, inner: Model, table: CapabilityTable, policy: Mapping[str, Action]) -> None:
        self.inner = inner
        self.table = table
        self.policy = dict(policy)

    def _adapt(self, request: ChatRequest) -> Adapted:
        adapted = adapt(request, self.table.get(request.model), self.policy)
        if adapted.dropped or adapted.translated:
            request.options[ADAPTED_OPTION] = adapted  # the caller's options: a stream's headers read it
        return adapted

    async def complete(self, request: ChatRequest) -> ChatResponse:
        adapted = self._adapt(request)
        return annotate(await self.inner.complete(adapted.request), adapted)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        adapted = self._adapt(request)
        upstream = self.inner.stream(adapted.request)
        try:
            async for event in upstream:
                if isinstance(event, StreamDone):
                    annotate(event.response, adapted)
                yield event
        finally:
            await close_stream(upstream)

    async def aclose(self) -> None:
        await self.inner.aclose()


def annotate(response: ChatResponse, adapted: Adapted) -> ChatResponse:
    if adapted.dropped:
        response.annotations["dropped_params"] = ",".join(adapted.dropped)
    if adapted.translated:
        response.annotations["translated_params"] = ",".join(adapted.translated)
    return response
