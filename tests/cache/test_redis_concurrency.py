"""1,000 concurrent requests through the Redis cache: every repeat is a hit, none is paid upstream again."""

from __future__ import annotations

import asyncio

from inferopt.cache import Cached
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest


async def test_a_thousand_concurrent_lookups_are_all_answered_by_the_cache(redis_backend: object) -> None:
    upstream = FunctionModel(lambda r: f"answer to {r.last_user_text}")
    cached = Cached(upstream, redis_backend)  # type: ignore[arg-type]
    requests = [ChatRequest.of(f"question {i}", model="gpt-4o-mini", temperature=0) for i in range(1000)]
    first = await asyncio.gather(*(cached.complete(r) for r in requests))
    assert len(upstream.calls) == 1000 and {a.cache for a in first} == {"miss"}
    again = await asyncio.gather(*(cached.complete(r) for r in requests))
    assert len(upstream.calls) == 1000  # no lookup failed open into a second, paid call
    assert {a.cache for a in again} == {"hit"}
    assert [a.content for a in again] == [a.content for a in first]
