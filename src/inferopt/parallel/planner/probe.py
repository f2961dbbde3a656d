"""Whether the exact cache already answers a row, looked up without sending anything."""

from __future__ import annotations

from dataclasses import replace

from inferopt.cache.keys import cache_key
from inferopt.cache.policy import Action, CachePolicy
from inferopt.cache.url import backend_from_url
from inferopt.types import ChatRequest


class CacheProbe:
    """Looks requests up in the cache at ``url`` under the key the run's cache layer would use.

    ``model`` is the provider's model id, which is what the cache layer sees. Repeats of an earlier
    row are found by the planner (``repeats.py``), not here.
    """

    def __init__(self, url: str, model: str, policy: str = "all") -> None:
        self.model = model
        self._rules = CachePolicy(cache_nondeterministic=policy == "all")
        self._backend = backend_from_url(url)

    async def holds(self, request: ChatRequest) -> bool:
        request = replace(request, model=self.model)
        if self._rules.action_for(request) is not Action.LOOKUP:
            return False
        namespace = self._rules.namespace_for(request)
        key = cache_key(request, namespace=namespace, normalise=self._rules.normalises(namespace))
        return await self._backend.get(key) is not None

    async def aclose(self) -> None:
        await self._backend.aclose()
