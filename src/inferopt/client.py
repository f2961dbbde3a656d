"""The composed client: ``AsyncClient`` and its sync twin ``Client``.

``AsyncClient`` resolves a model name (alias, ``provider/model`` or a bare id) to a route, sends
the request through that route's Model (the provider adapter wrapped in the configured stack),
and prices the answer from the catalog. ``Client`` runs the same ``AsyncClient`` on a private
event loop in a background thread: one implementation of the logic, two calling styles.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import fields, replace
from typing import Any, TypeVar

from inferopt.capabilities import Capable, default_table, policy_from_options
from inferopt.config import Config, load_config
from inferopt.embeddings.build import EmbedInputs, build_embedder, embedding_request
from inferopt.embeddings.pricing import embedding_catalog
from inferopt.embeddings.types import EmbeddingModel, EmbeddingResponse
from inferopt.errors import UnknownModelError
from inferopt.parallel.mapping import map_ordered, map_unordered
from inferopt.pricing import ModelPrice, PriceCatalog, default_catalog
from inferopt.pricing.priced import Priced
from inferopt.providers.base import Provider
from inferopt.resolve import Resolved, Resolver, Route
from inferopt.stack import build_stack, validate_stack
from inferopt.types import ChatRequest, ChatResponse, Message, Model, StreamEvent, close_stream

Prompt = str | Sequence[Message | Mapping[str, Any]] | ChatRequest
T = TypeVar("T")
_MAX_REMEMBERED_ROUTES = 1024
_REQUEST_FIELDS = frozenset(f.name for f in fields(ChatRequest)) - {"model", "messages"}


def build_request(prompt: Prompt, *, model: str, system: str | None = None, **params: Any) -> ChatRequest:
    """A ChatRequest from a prompt string, a list of messages (dicts or Message) or a request."""
    if params and not params.keys() <= _REQUEST_FIELDS:
        unknown = sorted(params.keys() - _REQUEST_FIELDS)
        raise TypeError(
            f"unknown request parameter(s) {unknown}: pass provider-specific fields as "
            f"extra={{{', '.join(repr(u) + ': ...' for u in unknown)}}} (sent in the request body as they are)"
        )
    if isinstance(prompt, ChatRequest):
        if params:
            return replace(prompt, model=model, **params)
        return prompt if prompt.model == model else prompt.with_model(model)  # no copy on the hot path
    if isinstance(prompt, str):
        return ChatRequest.of(prompt, model=model, system=system, **params)
    messages = [m if isinstance(m, Message) else Message.from_openai(dict(m)) for m in prompt]
    if system:
        messages.insert(0, Message("system", system))
    return ChatRequest(model=model, messages=messages, **params)


def catalog_for(config: Config, base: PriceCatalog | None = None) -> PriceCatalog:
    """The default catalog, extended by the config's price files and per-alias prices."""
    catalog = (base or default_catalog()).with_files(config.pricing.files)
    overrides = {
        alias.model: ModelPrice(
            name=alias.model,
            provider=config.providers[alias.provider].kind,
            input=alias.price.input,
            output=alias.price.output,
            cache_read=alias.price.cache_read,
        )
        for alias in config.models.values()
        if alias.price is not None
    }
    return catalog.merged(PriceCatalog(overrides)) if overrides else catalog


class AsyncClient:
    """Send chat requests through the configured providers and optimizations.

    >>> async with AsyncClient() as client:              # doctest: +SKIP
    ...     answer = await client.complete("Say hi", model="gpt-4o-mini")
    ...     print(answer.content, answer.usage, answer.cost_usd)

    ``models`` maps names to ready Models (for example in-process fakes in tests); they take
    precedence over the config's providers and still get the stack and pricing.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        models: Mapping[str, Model] | None = None,
        catalog: PriceCatalog | None = None,
    ) -> None:
        self.config = config if config is not None else load_config()
        validate_stack(self.config.stack, self.config.source)
        self.catalog = catalog_for(self.config, catalog)
        self._resolver = Resolver(self.config)
        self._injected = dict(models or {})
        self._stacked: dict[tuple[str, str], Model] = {}
        self._embedders: dict[tuple[str, str], EmbeddingModel] = {}
        self._routes: dict[str, Route] = {}
        caps = self.config.capabilities
        self._capabilities = (
            None
            if caps is False
            else (
                default_table(self.catalog),
                policy_from_options(caps if isinstance(caps, dict) else {}, source=self.config.source),
            )
        )

    @property
    def embedding_catalog(self) -> PriceCatalog:
        """The prices embeddings are billed at: the bundled embedding prices under this client's catalog."""
        return embedding_catalog().merged(self.catalog)

    @classmethod
    def from_config(cls, path: str | None = None) -> AsyncClient:
        return cls(load_config(path))

    @property
    def is_emulated(self) -> bool:
        """True when answers come from the built-in emulator (no real provider configured)."""
        return not self._injected and self.config.is_emulated

    def resolve(self, model: str | None = None) -> Route:
        name = model or self.config.default_model
        route = self._routes.get(name or "")
        if route is None:
            route = self._resolve(name)
            if name and len(self._routes) < _MAX_REMEMBERED_ROUTES:
                self._routes[name] = route  # a pure function of the config: resolved once per name
        return route

    def connection(self, provider: str, wire: str) -> Provider:
        """The connection the client uses to ``provider`` on ``wire`` (for calls beyond chat: Gemini's caches)."""
        return self._resolver.connection(provider, wire)

    def _resolve(self, name: str | None) -> Route:
        if name in self._injected:
            return Route(name, "injected", name, "openai")
        if name and name.startswith("router/"):  # a router from the config's `routers:` (routing/build.py)
            if name[7:] not in self.config.routers:
                raise UnknownModelError(f"no router {name[7:]!r} under routers; known: {sorted(self.config.routers)}")
            return Route(name, "router", name[7:], "openai")
        return self._resolver.resolve(name)

    def _model_for(self, route: Route) -> Model:
        """The Model serving ``route``: its provider under the configured stack, priced once on top;
        a router is a Model over such Models (each target priced, the router summing its attempts)."""
        key = (route.provider, route.model if route.provider in ("injected", "router") else route.wire)
        model = self._stacked.get(key)
        if model is None and route.provider == "router":
            from inferopt.routing.build import build_router

            options = self.config.routers[route.model]
            model = self._stacked[key] = build_router(route.model, options, self._target, self.config.source)
        if model is None:
            inner = self._injected[route.model] if route.provider == "injected" else self._resolver.model_for(route)
            stacked = build_stack(self._capable(inner), self.config.stack, self.config.source)
            model = self._stacked[key] = Priced(stacked, self.catalog, route.model)
        return model

    def _capable(self, inner: Model) -> Model:
        """The provider under the capability layer (unless the config says ``capabilities: false``)."""
        return inner if self._capabilities is None else Capable(inner, *self._capabilities)

    def _target(self, name: str) -> Model:
        """A router's target ``name`` (an alias, ``provider/model``...) as a Model of its own."""

        def resolve() -> tuple[Model, str]:
            route = self.resolve(name)
            return self._model_for(route), route.model

        def key() -> str:
            route = self.resolve(name)
            return f"{route.provider}/{route.model}"

        return Resolved(resolve, key)

    async def complete(
        self, prompt: Prompt, *, model: str | None = None, system: str | None = None, **params: Any
    ) -> ChatResponse:
        """Send one request and return the whole answer, priced (``cost_usd``)."""
        route = self.resolve(model or (prompt.model if isinstance(prompt, ChatRequest) else None))
        request = build_request(prompt, model=route.model, system=system, **params)
        return await self._model_for(route).complete(request)

    async def stream(
        self, prompt: Prompt, *, model: str | None = None, system: str | None = None, **params: Any
    ) -> AsyncGenerator[StreamEvent, None]:
        """Stream text deltas; the final ``StreamDone`` carries usage, cost, TTFT and latency.

        Closing the iterator early (``break`` in ``async for``, or ``aclose()``) closes the upstream
        connection, so no more tokens are generated or billed.
        """
        route = self.resolve(model or (prompt.model if isinstance(prompt, ChatRequest) else None))
        request = build_request(prompt, model=route.model, system=system, **params)
        upstream = self._model_for(route).stream(request)
        try:
            async for event in upstream:
                yield event
        finally:
            await close_stream(upstream)

    async def embed(
        self, inputs: EmbedInputs, *, model: str | None = None, dimensions: int | None = None, **params: Any
    ) -> EmbeddingResponse:
        """Embed a string, a list of strings or token arrays (or an ``EmbeddingRequest``): one vector
        per input, in order, with usage and ``cost_usd``. The config's ``cache`` layer caches each
        input's vector on its own, so only inputs never embedded before go upstream."""
        requested = model or getattr(inputs, "model", None)
        route = self.resolve(requested)
        request = embedding_request(inputs, model=route.model, dimensions=dimensions, **params)
        key = (route.provider, route.model)
        embedder = self._embedders.get(key)
        if embedder is None:
            injected = self._injected.get(route.model) if route.provider == "injected" else None
            embedder = self._embedders[key] = build_embedder(
                route, injected, self._resolver, self.config, self.embedding_catalog
            )
        return await embedder.embed(request)

    async def map(
        self,
        prompts: Iterable[Prompt],
        *,
        model: str | None = None,
        concurrency: int = 64,
        system: str | None = None,
        **params: Any,
    ) -> list[ChatResponse | Exception]:
        """Answer many prompts concurrently; results in input order, a failed item's slot holds its error.

        Provider limits (RPM/TPM) and retries come from the config's stack (``rate_limit``, ``retry``);
        ``concurrency`` caps requests in flight from this call.
        """

        async def one(prompt: Prompt) -> ChatResponse:
            return await self.complete(prompt, model=model, system=system, **params)

        return await map_ordered(one, prompts, concurrency=concurrency)

    def map_unordered(
        self,
        prompts: Iterable[Prompt],
        *,
        model: str | None = None,
        concurrency: int = 64,
        system: str | None = None,
        **params: Any,
    ) -> AsyncIterator[tuple[int, ChatResponse | Exception]]:
        """Like :meth:`map`, but yields ``(index, result)`` as each finishes (for writing results as they come)."""

        async def one(prompt: Prompt) -> ChatResponse:
            return await self.complete(prompt, model=model, system=system, **params)

        return map_unordered(one, prompts, concurrency=concurrency)

    async def aclose(self) -> None:
        """Close every stack layer (so recorders flush, caches and limiters let go), then the providers."""
        stacked = list(self._stacked.values())
        self._stacked.clear()
        for model in stacked:
            await model.aclose()
        embedders = list(self._embedders.values())
        self._embedders.clear()
        for embedder in embedders:
            await embedder.aclose()
        for model in self._injected.values():
            await model.aclose()
        await self._resolver.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _LoopThread:
    """An event loop running in a daemon thread, for the sync twin."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="inferopt-client", daemon=True)
        self._thread.start()

    def run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class Client:
    """The sync twin of :class:`AsyncClient`: same arguments, same results, blocking calls."""

    def __init__(self, config: Config | None = None, **kwargs: Any) -> None:
        self._thread = _LoopThread()
        self._async = AsyncClient(config, **kwargs)

    @classmethod
    def from_config(cls, path: str | None = None) -> Client:
        return cls(load_config(path))

    @property
    def config(self) -> Config:
        return self._async.config

    @property
    def is_emulated(self) -> bool:
        return self._async.is_emulated

    def resolve(self, model: str | None = None) -> Route:
        return self._async.resolve(model)

    def complete(self, prompt: Prompt, **kwargs: Any) -> ChatResponse:
        result: ChatResponse = self._thread.run(self._async.complete(prompt, **kwargs))
        return result

    def embed(self, inputs: EmbedInputs, **kwargs: Any) -> EmbeddingResponse:
        """Blocking twin of :meth:`AsyncClient.embed`."""
        result: EmbeddingResponse = self._thread.run(self._async.embed(inputs, **kwargs))
        return result

    def map(self, prompts: Iterable[Prompt], **kwargs: Any) -> list[ChatResponse | Exception]:
        """Blocking twin of :meth:`AsyncClient.map`."""
        result: list[ChatResponse | Exception] = self._thread.run(self._async.map(prompts, **kwargs))
        return result

    def stream(self, prompt: Prompt, **kwargs: Any) -> Iterator[StreamEvent]:
        events = self._async.stream(prompt, **kwargs)
        try:
            while True:
                try:
                    yield self._thread.run(events.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self._thread.run(events.aclose())

    def close(self) -> None:
        self._thread.run(self._async.aclose())
        self._thread.stop()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
