"""``Cached``: the answer cache as a Model wrapper (exact keys, optional semantic lookup).

::

    model = Cached(provider_model, SQLiteBackend("cache.db"))
    await model.complete(request)     # miss: upstream, stored; the same request again: a hit

A hit's response carries the original usage and ``cache == "hit"`` (or
``"semantic_hit"``), plus ``cache_saved_usd``; a miss says ``"miss"``, and requests the policy
does not cache say ``"bypass"``/``"refresh"``. A streamed answer is stored with its chunk boundaries
and a hit replays it as a stream ending with the original usage.

Backend failures (Redis down, SQLite locked, a corrupt entry) never fail the request: the answer
comes from upstream, a warning is logged (at most once a minute per operation) and
``backend_errors`` is counted.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from inferopt.cache.backend import CacheBackend, FillLock
from inferopt.cache.entry import CachedAnswer
from inferopt.cache.keys import cache_key
from inferopt.cache.policy import Action, CachePolicy
from inferopt.cache.singleflight import Lead, SingleFlight
from inferopt.cache.stats import CacheStats, NamespaceStats, saved_cost
from inferopt.pricing import PriceCatalog
from inferopt.types import ChatRequest, ChatResponse, Model, StreamDone, StreamEvent, TextDelta, Usage

logger = logging.getLogger("inferopt.cache")
WARN_EVERY_S = 60.0


class SemanticLookup(Protocol):
    """What ``Cached`` needs from a semantic cache: find an exact key for a similar request, remember one."""

    async def lookup(self, request: ChatRequest, namespace: str) -> str | None: ...

    async def remember(self, request: ChatRequest, namespace: str, key: str) -> None: ...

    def close(self) -> None:
        """Let go of the index's files (called by ``Cached.aclose``)."""


class SemanticFeedback(Protocol):
    """A semantic cache that learns from verdicts on the hits it served (``SemanticCache`` does)."""

    def mark_hit(self, request: ChatRequest, namespace: str, *, correct: bool) -> bool: ...


class Cached:
    """Answers from ``backend`` when the same request was answered before; else from ``inner``."""

    def __init__(
        self,
        inner: Model,
        backend: CacheBackend,
        policy: CachePolicy | None = None,
        *,
        semantic: SemanticLookup | None = None,
        catalog: PriceCatalog | None = None,
        single_flight: bool = True,
        wait_timeout_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.inner = inner
        self.backend = backend
        self.policy = policy or CachePolicy()
        self.semantic = semantic
        self.catalog = catalog
        self.stats = CacheStats(clock=clock)
        self._clock = clock
        self._wall_clock = wall_clock
        self._last_warned: dict[str, float] = {}
        lock = backend if isinstance(backend, FillLock) else None
        self._flights = (
            SingleFlight(lock=lock, wait_timeout_s=wait_timeout_s, on_backend_error=self._backend_error)
            if single_flight
            else None
        )

    def mark_hit(self, request: ChatRequest, *, correct: bool) -> bool:
        """Feedback on the semantic hit served for ``request``: was its answer right? Counted in the
        stats (``semantic_checked``, ``semantic_wrong``) and passed to the semantic cache, whose
        false-hit bound learns from it. False when no semantic hit was served for this request."""
        namespace = self.policy.namespace_for(request)
        semantic = self.semantic
        if semantic is None or not hasattr(semantic, "mark_hit"):
            return False
        learner: SemanticFeedback = semantic  # type: ignore[assignment]
        if not learner.mark_hit(request, namespace, correct=correct):
            return False
        self.stats.add(namespace, semantic_checked=1, semantic_wrong=0 if correct else 1)
        return True

    def report_wrong_hit(self, request: ChatRequest) -> bool:
        """``mark_hit(request, correct=False)``: the answer served from a similar question was wrong."""
        return self.mark_hit(request, correct=False)

    # -- the Model seam -------------------------------------------------------------------------

    async def complete(self, request: ChatRequest) -> ChatResponse:
        started = self._clock()
        action, namespace, key = self._plan(request)
        if action is Action.BYPASS:
            return await self._upstream_complete(request, namespace, "bypass")
        if action is Action.LOOKUP:
            found = await self._lookup(request, namespace, key)
            if found is not None:
                return await self._hit(found[0], namespace, started, semantic=found[1])
        claim = await self._claim(key)
        if isinstance(claim, CachedAnswer):
            return await self._hit(claim, namespace, started, semantic=False)
        try:
            response = await self._upstream_complete(
                request, namespace, "refresh" if action is Action.REFRESH else "miss"
            )
        except BaseException:
            await claim.finish(None)
            raise
        answer = CachedAnswer(_copy(response), None, self._wall_clock())
        await self._store(request, namespace, key, answer)
        # Followers share only what may be cached; otherwise they race again, as after a failure.
        await claim.finish(answer if self._cacheable(response) else None)
        return response

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        started = self._clock()
        action, namespace, key = self._plan(request)
        if action is Action.BYPASS:
            self.stats.add(namespace, bypasses=1, upstream_calls=1)
            async for event in self.inner.stream(request):
                if isinstance(event, StreamDone):
                    event.response.cache = "bypass"
                yield event
            return
        if action is Action.LOOKUP:
            found = await self._lookup(request, namespace, key)
            if found is not None:
                async for event in self._replay(found[0], namespace, started, semantic=found[1]):
                    yield event
                return
        claim = await self._claim(key)
        if isinstance(claim, CachedAnswer):
            async for event in self._replay(claim, namespace, started, semantic=False):
                yield event
            return
        self.stats.add(namespace, **{"refreshes" if action is Action.REFRESH else "misses": 1}, upstream_calls=1)
        chunks: list[str] = []
        answer: CachedAnswer | None = None
        try:
            async for event in self.inner.stream(request):
                if isinstance(event, TextDelta):
                    chunks.append(event.text)
                elif isinstance(event, StreamDone):
                    answer = CachedAnswer(_copy(event.response), chunks, self._wall_clock())
                    event.response.cache = "refresh" if action is Action.REFRESH else "miss"
                    if self._cacheable(answer.response):
                        await self._store(request, namespace, key, answer)
                    else:
                        answer = None
                yield event
        finally:
            # Closed early or failed: nothing is stored and followers race again.
            await claim.finish(answer)
            await self._maybe_flush()

    async def aclose(self) -> None:
        await self.flush_stats()
        await self.backend.aclose()
        if self.semantic is not None:
            self.semantic.close()
        await self.inner.aclose()

    # -- stats ----------------------------------------------------------------------------------

    def local_stats(self, namespace: str | None = None) -> dict[str, NamespaceStats]:
        """This process's counters per namespace (``read_stats`` of the backend has every process's)."""
        return self.stats.snapshot(namespace)

    async def flush_stats(self) -> None:
        pending = self.stats.take_pending()
        for namespace, deltas in pending.items():
            try:
                await self.backend.add_stats(namespace, deltas)
            except Exception as exc:
                self._backend_error("add_stats", exc)

    # -- internals ------------------------------------------------------------------------------

    def _plan(self, request: ChatRequest) -> tuple[Action, str, str]:
        namespace = self.policy.namespace_for(request)
        action = self.policy.action_for(request)
        key = cache_key(request, namespace=namespace, normalise=self.policy.normalises(namespace))
        return action, namespace, key

    async def _claim(self, key: str) -> CachedAnswer | Lead:
        if self._flights is None:
            return Lead(SingleFlight(), key, None)
        return await self._flights.claim(key, lambda: self._read(key))

    async def _lookup(self, request: ChatRequest, namespace: str, key: str) -> tuple[CachedAnswer, bool] | None:
        answer = await self._read(key)
        if answer is not None:
            return answer, False
        if self.semantic is None:
            return None
        try:
            similar = await self.semantic.lookup(request, namespace)
        except Exception as exc:
            self._backend_error("semantic_lookup", exc)
            return None
        if similar is None:
            return None
        answer = await self._read(similar)
        return None if answer is None else (answer, True)

    async def _read(self, key: str) -> CachedAnswer | None:
        try:
            raw = await self.backend.get(key)
            return None if raw is None else CachedAnswer.from_bytes(raw)
        except Exception as exc:
            self._backend_error("get", exc)
            return None

    async def _store(self, request: ChatRequest, namespace: str, key: str, answer: CachedAnswer) -> None:
        if not self._cacheable(answer.response):
            return
        try:
            await self.backend.set(key, answer.to_bytes(), self.policy.ttl_s)
        except Exception as exc:
            self._backend_error("set", exc)
            return
        if self.semantic is not None:
            try:
                await self.semantic.remember(request, namespace, key)
            except Exception as exc:
                self._backend_error("semantic_remember", exc)

    def _cacheable(self, response: ChatResponse) -> bool:
        return response.finish_reason != "error" or self.policy.cache_errors_finish

    async def _upstream_complete(self, request: ChatRequest, namespace: str, label: str) -> ChatResponse:
        counter = {"bypass": "bypasses", "refresh": "refreshes", "miss": "misses"}[label]
        self.stats.add(namespace, **{counter: 1}, upstream_calls=1)
        response = await self.inner.complete(request)
        response.cache = label
        await self._maybe_flush()
        return response

    async def _hit(self, answer: CachedAnswer, namespace: str, started: float, *, semantic: bool) -> ChatResponse:
        original = answer.response
        saved = saved_cost(original.usage, (original.model,), self.catalog)
        self.stats.record_hit(namespace, original.usage, saved, semantic=semantic)
        response = _copy(original)
        response.latency_s = self._clock() - started
        response.ttft_s = response.latency_s
        response.cache = "semantic_hit" if semantic else "hit"
        response.annotations.update(
            {
                "cache_namespace": namespace,
                "cache_saved_usd": saved,
                "cache_original_latency_s": original.latency_s,
                "cache_age_s": max(0.0, self._wall_clock() - answer.created_at),
            }
        )
        await self._maybe_flush()
        return response

    async def _replay(
        self, answer: CachedAnswer, namespace: str, started: float, *, semantic: bool
    ) -> AsyncIterator[StreamEvent]:
        response = await self._hit(answer, namespace, started, semantic=semantic)
        chunks = answer.chunks if answer.chunks is not None else ([response.content] if response.content else [])
        for chunk in chunks:
            yield TextDelta(chunk)
        yield StreamDone(response)

    async def _maybe_flush(self) -> None:
        if self.stats.due():
            await self.flush_stats()

    def _backend_error(self, operation: str, exc: Exception) -> None:
        self.stats.add(self.policy.namespace, backend_errors=1)
        now = self._clock()
        last = self._last_warned.get(operation)
        if last is None or now - last >= WARN_EVERY_S:
            self._last_warned[operation] = now
            logger.warning(
                "cache backend %s failed (%s: %s); serving from upstream (fail-open)",
                operation,
                type(exc).__name__,
                exc,
            )


def _copy(response: ChatResponse) -> ChatResponse:
    """A response that shares no mutable state with the stored one."""
    return dataclasses.replace(
        response,
        usage=Usage(**dataclasses.asdict(response.usage)),
        annotations=dict(response.annotations),
        thinking=None if response.thinking is None else [dataclasses.replace(p) for p in response.thinking],
        route=None if response.route is None else dict(response.route),
        tool_calls=None if response.tool_calls is None else [dict(c) for c in response.tool_calls],
    )
