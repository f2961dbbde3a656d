"""``CachedEmbeddings``: the exact cache per input item.

Each input's vector is stored under its own key (model, ``dimensions``, ``extra`` and the input,
hashed with the namespace like the chat cache's keys, so tenants never share an entry). A request
of ten inputs of which three were embedded before sends only the seven others upstream, in one
request (an input repeated within a request is sent once), and answers all ten in their order.

The answer's usage counts every input's tokens (a stored vector keeps its count), as the provider
would report them; ``cost_usd`` is what the upstream call cost (stored vectors are free), and
``cache`` says ``hit`` (nothing sent), ``partial``, ``miss`` or ``bypass``, with the counts in
``annotations`` (``cache_hits``, ``cache_misses``). Options (``options={"cache": "bypass"}`` or
``"refresh"``, ``options={"namespace": ...}``) are the chat cache's. Embeddings are deterministic,
so every request is cacheable. Backend failures never fail the request (fail-open, as in chat).
"""

from __future__ import annotations

import hashlib
import logging
import struct
from typing import Any

from inferopt.cache.backend import CacheBackend
from inferopt.cache.keys import canonical_json
from inferopt.cache.policy import CACHE_OPTION, CachePolicy
from inferopt.embeddings.types import EmbeddingInput, EmbeddingModel, EmbeddingRequest, EmbeddingResponse
from inferopt.tokens import count_tokens
from inferopt.types import Usage

logger = logging.getLogger("inferopt.cache")
KEY_VERSION = 1


def item_key(request: EmbeddingRequest, item: EmbeddingInput, namespace: str) -> str:
    """The key of one input's vector in ``namespace``: ``<namespace>:emb-<sha256 hex>``."""
    identity = {"model": request.model, "dimensions": request.dimensions, "extra": request.extra, "input": item}
    digest = hashlib.sha256(canonical_json({"v": KEY_VERSION, "ns": namespace, "emb": identity})).hexdigest()
    return f"{namespace}:emb-{digest}"


def pack(vector: list[float], tokens: int) -> bytes:
    return struct.pack(f"<I{len(vector)}d", tokens, *vector)


def unpack(value: bytes) -> tuple[list[float], int]:
    if len(value) < 4 or (len(value) - 4) % 8:
        raise ValueError(f"a stored embedding of {len(value)} bytes is damaged")
    tokens, *vector = struct.unpack(f"<I{(len(value) - 4) // 8}d", value)
    return vector, tokens


def tokens_of(item: EmbeddingInput, model: str) -> int:
    return len(item) if isinstance(item, list) else count_tokens(item, model)


class CachedEmbeddings:
    """Vectors from ``backend`` for inputs embedded before; only the others from ``inner``."""

    def __init__(self, inner: EmbeddingModel, backend: CacheBackend, policy: CachePolicy | None = None) -> None:
        self.inner = inner
        self.backend = backend
        self.policy = policy or CachePolicy()

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        mode = request.options.get(CACHE_OPTION)
        if mode == "bypass":
            response = await self.inner.embed(request)
            response.cache = "bypass"
            return response
        namespace = self.policy.namespace_for(request)
        keys = [item_key(request, item, namespace) for item in request.inputs]
        found = {} if mode == "refresh" else await self._read(set(keys))
        missing = list(dict.fromkeys(k for k in keys if k not in found))  # each distinct input once
        upstream: EmbeddingResponse | None = None
        if missing:
            first = {k: item for k, item in zip(keys, request.inputs, strict=True)}
            upstream = await self.inner.embed(request.with_inputs([first[k] for k in missing]))
            fresh = self._split(upstream, [first[k] for k in missing], request.model)
            await self._write(dict(zip(missing, fresh, strict=True)))
            found.update(zip(missing, fresh, strict=True))
        hits = sum(1 for k in keys if k not in missing)
        return self._answer(request, [found[k] for k in keys], upstream, hits, len(missing))

    def _split(
        self, upstream: EmbeddingResponse, items: list[EmbeddingInput], model: str
    ) -> list[tuple[list[float], int]]:
        """Each new vector with its input's tokens (the provider reports only the total: split by count)."""
        counts = [tokens_of(item, model) for item in items]
        total = upstream.usage.input_tokens
        if total and sum(counts) != total and sum(counts):
            scaled = [round(c * total / sum(counts)) for c in counts]
            scaled[-1] += total - sum(scaled)
            counts = scaled
        return list(zip(upstream.vectors, counts, strict=True))

    def _answer(
        self,
        request: EmbeddingRequest,
        found: list[tuple[list[float], int]],
        upstream: EmbeddingResponse | None,
        hits: int,
        misses: int,
    ) -> EmbeddingResponse:
        response = EmbeddingResponse(
            model=upstream.model if upstream is not None else request.model,
            vectors=[list(vector) for vector, _ in found],
            usage=Usage(sum(tokens for _, tokens in found)),
            cost_usd=upstream.cost_usd if upstream is not None else 0.0,
            cache="miss" if not hits else "hit" if not misses else "partial",
        )
        if upstream is not None:
            response.provider, response.request_id = upstream.provider, upstream.request_id
            response.emulated, response.latency_s = upstream.emulated, upstream.latency_s
            response.annotations.update(upstream.annotations)
        response.annotations.update(cache_hits=hits, cache_misses=misses)
        return response

    async def _read(self, keys: set[str]) -> dict[str, tuple[list[float], int]]:
        found: dict[str, tuple[list[float], int]] = {}
        for key in keys:
            try:
                value = await self.backend.get(key)
                if value is not None:
                    found[key] = unpack(value)
            except Exception as exc:  # fail open: the vector comes from upstream
                logger.warning("embedding cache read failed (%s: %s); embedding upstream", type(exc).__name__, exc)
        return found

    async def _write(self, entries: dict[str, tuple[list[float], int]]) -> None:
        for key, (vector, tokens) in entries.items():
            try:
                await self.backend.set(key, pack(vector, tokens), self.policy.ttl_s)
            except Exception as exc:
                logger.warning("embedding cache write failed (%s: %s)", type(exc).__name__, exc)
                return

    async def aclose(self) -> None:
        await self.inner.aclose()
        await self.backend.aclose()


def cached_embeddings_from_options(inner: EmbeddingModel, options: dict[str, Any]) -> CachedEmbeddings:
    """The embeddings twin of a config's ``cache:`` layer (same ``url`` and ``namespace`` options)."""
    from inferopt.cache.url import DEFAULT_URL, backend_from_url

    fields = {k: options[k] for k in ("namespace", "allow_request_namespace", "ttl_s") if k in options}
    return CachedEmbeddings(inner, backend_from_url(str(options.get("url", DEFAULT_URL))), CachePolicy(**fields))
