"""Which rows the exact cache already answers, looked up without sending anything."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from inferopt.cache.keys import cache_key
from inferopt.cache.policy import Action, CachePolicy
from inferopt.cache.url import backend_from_url
from inferopt.types import ChatRequest


async def cached_rows(
    url: str | None, rows: Iterable[tuple[int, ChatRequest]], model: str, policy: str = "all"
) -> set[int]:
    """Indexes of rows whose request is in the cache at ``url``, or repeats an earlier row's request.

    A repeat is answered by the cache once its first copy has been (the run puts the cache layer in
    front of every request), so it is never paid for either. ``model`` is the provider's model id,
    which is what the cache layer sees. Without ``url`` only the repeats are found.
    """
    rules = CachePolicy(cache_nondeterministic=policy == "all")
    backend = backend_from_url(url) if url else None
    hits: set[int] = set()
    seen: set[str] = set()
    try:
        for index, request in rows:
            request = replace(request, model=model)
            if rules.action_for(request) is not Action.LOOKUP:
                continue
            namespace = rules.namespace_for(request)
            key = cache_key(request, namespace=namespace, normalise=rules.normalises(namespace))
            if key in seen or (backend is not None and await backend.get(key) is not None):
                hits.add(index)
            seen.add(key)
    finally:
        if backend is not None:
            await backend.aclose()
    return hits
