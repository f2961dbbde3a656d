"""Retries and rate limits for embeddings: the stack's ``retry`` and ``rate_limit`` layers, on the embeddings seam.

The same policies as chat (:class:`~inferopt.parallel.retry.RetryPolicy`: jittered backoff, ``Retry-After``
honoured, a deadline; :class:`~inferopt.parallel.limits.RateLimited`'s buckets, local or in Redis, per
model), applied to whole ``embed`` calls: a request is one RPM unit and its inputs' tokens are its TPM.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from typing import Any

from inferopt.embeddings.types import EmbeddingModel, EmbeddingRequest, EmbeddingResponse
from inferopt.errors import ProviderError
from inferopt.parallel.limits import LOCAL, RateLimited, rate_limited_from_options
from inferopt.parallel.retry import GiveUp, RetryPolicy, RetryState
from inferopt.tokens import count_tokens


class RetryingEmbeddings:
    def __init__(self, inner: EmbeddingModel, policy: RetryPolicy | None = None, *, sleep: Any = asyncio.sleep) -> None:
        self.inner = inner
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rng = random.Random()

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        state = RetryState(self.policy, started=time.monotonic(), rng=self._rng)
        while True:
            try:
                response = await self.inner.embed(request)
            except ProviderError as error:
                action = state.after_failure(error, time.monotonic())
                if isinstance(action, GiveUp):
                    if state.attempts > 1:
                        error.add_note(f"inferopt: {action.reason} ({state.attempts} attempts)")
                    raise
                await self._sleep(action.seconds)
                continue
            response.annotations["attempts"] = state.attempts
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class LimitedEmbeddings:
    def __init__(self, inner: EmbeddingModel, limiter: RateLimited) -> None:
        self.inner = inner
        self.limiter = limiter

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        tokens = sum(len(i) if isinstance(i, list) else count_tokens(i, request.model) for i in request.inputs)
        bucket, estimate, local = await self.limiter.admit(self.limiter.limiter_for(request.model), tokens)
        response: EmbeddingResponse | None = None
        try:
            response = await self.inner.embed(request)
        finally:
            await self.limiter.settle(bucket, estimate, None if response is None else response.usage.input_tokens)
        if local:
            response.annotations["limiter"] = LOCAL
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
        if self.limiter.redis is not None:
            await self.limiter.redis.aclose()


def retrying_embeddings_from_options(inner: EmbeddingModel, options: Mapping[str, Any]) -> RetryingEmbeddings:
    fields = {k: v for k, v in options.items() if k != "budget_ratio"}
    return RetryingEmbeddings(inner, RetryPolicy(**fields))


def limited_embeddings_from_options(inner: EmbeddingModel, options: Mapping[str, Any]) -> LimitedEmbeddings:
    return LimitedEmbeddings(inner, rate_limited_from_options(_NoChat(), options))


class _NoChat:
    """The chat Model a limiter built for embeddings never calls."""

    async def complete(self, request: Any) -> Any:
        raise AssertionError("an embeddings limiter has no chat model")

    def stream(self, request: Any) -> Any:
        raise AssertionError("an embeddings limiter has no chat model")

    async def aclose(self) -> None:
        return None
