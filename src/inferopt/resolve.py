"""From a model name to the Model that answers it.

A name is resolved, in order, as: an alias under ``models``; ``provider/model`` with a declared
provider; a bare model id when exactly one provider is declared; a bare model id whose catalog
provider family (openai, anthropic) matches exactly one declared provider's kind. Anything else
is an :class:`UnknownModelError` that lists what would have worked.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from inferopt.config import Config, PriceOverride, ProviderConfig, read_api_key
from inferopt.errors import ConfigError, InvalidArgumentError, UnknownModelError
from inferopt.providers.anthropic import AnthropicModel
from inferopt.providers.base import Provider
from inferopt.providers.gemini import GeminiModel
from inferopt.providers.gemini_embeddings import GeminiEmbedder
from inferopt.providers.openai import OpenAIChatModel
from inferopt.providers.openai_embeddings import OpenAIEmbedder
from inferopt.types import ChatRequest, ChatResponse, Model, StreamEvent


@dataclass(frozen=True, slots=True)
class Route:
    """Where a requested name goes: a provider and the provider's own model id."""

    requested: str
    provider: str
    model: str
    wire: str  # "openai" | "anthropic"
    price: PriceOverride | None = None


class Resolved:
    """A router's target: the Model a name resolves to, asked under the provider's model id.

    ``resolve`` runs on first use, so a router whose targets need keys or services can be built
    (and its options checked) before any of them is reachable.
    """

    def __init__(self, resolve: Callable[[], tuple[Model, str]], key: Callable[[], str] | None = None) -> None:
        self._resolve = resolve
        self._key = key
        self._target: tuple[Model, str] | None = None

    @property
    def shared_key(self) -> str | None:
        """``provider/model``: what a cool-down holds back, whichever alias or router names it."""
        return self._key() if self._key is not None else None

    def _get(self) -> tuple[Model, str]:
        if self._target is None:
            self._target = self._resolve()
        return self._target

    @property
    def inner(self) -> Model:
        """The stacked Model behind the name (resolved now), for what its provider can do (prefill)."""
        return self._get()[0]

    async def complete(self, request: ChatRequest) -> ChatResponse:
        model, model_id = self._get()
        return await model.complete(request.with_model(model_id))

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        model, model_id = self._get()
        return model.stream(request.with_model(model_id))

    async def aclose(self) -> None:
        return None  # the client owns the stacks it hands out, and closes them


def wire_for_model(model: str) -> str:
    """Which wire format the emulator serves a model on: Anthropic for Claude, Gemini's for Gemini, else OpenAI."""
    name = model.rsplit("/", 1)[-1]
    if name.startswith("claude"):
        return "anthropic"
    return "gemini" if name.startswith("gemini") else "openai"


class _EmulatorProcess:
    """An emulator running in a background thread of this process, started on first use."""

    def __init__(self, settings: ProviderConfig) -> None:
        self._settings = settings
        self._server: Any = None
        self._lock = threading.Lock()

    def base_urls(self) -> tuple[str, str]:
        with self._lock:
            if self._server is None:
                from inferopt.emulator import EmulatorConfig, EmulatorServer

                config = EmulatorConfig(
                    seed=self._settings.seed,
                    profiles_file=self._settings.profiles_file,
                    replay_paths=list(self._settings.replay),
                )
                server = EmulatorServer(config)
                server.__enter__()
                self._server = server
            return self._server.openai_base_url, self._server.anthropic_base_url

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.__exit__(None, None, None)
                self._server = None


class Resolver:
    """Resolves names to routes and holds one adapter per (provider, wire format)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._adapters: dict[tuple[str, str], Model] = {}
        self._providers: dict[tuple[str, str], Provider] = {}
        self._embedders: dict[str, OpenAIEmbedder | GeminiEmbedder] = {}
        self._emulators: dict[str, _EmulatorProcess] = {}

    def resolve(self, name: str | None) -> Route:
        requested = name or self.config.default_model
        if not requested:
            raise UnknownModelError(
                "no model given and no default_model in the config; pass model=... or set default_model"
            )
        config = self.config
        alias = config.models.get(requested)
        if alias is not None:
            return self._route(requested, alias.provider, alias.model, alias.price)
        prefix, sep, rest = requested.partition("/")
        if sep and prefix in config.providers:
            return self._route(requested, prefix, rest, None)
        if len(config.providers) == 1:
            return self._route(requested, next(iter(config.providers)), requested, None)
        family = wire_for_model(requested)
        matches = [n for n, p in config.providers.items() if p.kind == family]
        if len(matches) == 1:
            return self._route(requested, matches[0], requested, None)
        raise UnknownModelError(
            f"model {requested!r} is not an alias and names no provider; use an alias "
            f"({', '.join(sorted(config.models)) or 'none defined'}) or 'provider/model' with a provider "
            f"from {sorted(config.providers)}"
        )

    def _route(self, requested: str, provider: str, model: str, price: PriceOverride | None) -> Route:
        kind = self.config.providers[provider].kind
        wire = wire_for_model(model) if kind == "emulator" else kind
        return Route(requested, provider, model, wire, price)

    def model_for(self, route: Route) -> Model:
        key = (route.provider, route.wire)
        adapter = self._adapters.get(key)
        if adapter is None:
            adapter = self._adapters[key] = self._build(route.provider, route.wire)
        return adapter

    def embedder_for(self, route: Route) -> OpenAIEmbedder | GeminiEmbedder:
        """The embeddings adapter of ``route``'s provider (it shares the chat adapter's connections)."""
        if route.wire not in ("openai", "gemini"):
            raise InvalidArgumentError(
                f"model {route.requested!r} is served on the {route.wire} wire, which has no embeddings; "
                "use an OpenAI-compatible or a Gemini provider (kind: openai or gemini, or the emulator)"
            )
        embedder = self._embedders.get(route.provider)
        if embedder is None:
            connection = self._provider(route.provider, route.wire)
            made = GeminiEmbedder(connection) if route.wire == "gemini" else OpenAIEmbedder(connection)
            embedder = self._embedders[route.provider] = made
        return embedder

    def connection(self, provider: str, wire: str) -> Provider:
        """The connection to ``provider`` on ``wire``, for calls beyond chat (Gemini's cachedContents)."""
        return self._provider(provider, wire)

    def _build(self, name: str, wire: str) -> Model:
        provider = self._provider(name, wire)
        if wire == "gemini":
            return GeminiModel(provider)
        return AnthropicModel(provider) if wire == "anthropic" else OpenAIChatModel(provider)

    def _provider(self, name: str, wire: str) -> Provider:
        provider = self._providers.get((name, wire))
        if provider is None:
            provider = self._providers[(name, wire)] = self._connect(name, wire)
        return provider

    def _connect(self, name: str, wire: str) -> Provider:
        settings = self.config.providers[name]
        base_url = settings.resolved_base_url
        if settings.kind == "emulator":
            process = self._emulators.setdefault(name, _EmulatorProcess(settings))
            openai_url, anthropic_url = process.base_urls()
            base_url = anthropic_url if wire in ("anthropic", "gemini") else openai_url  # both at the root
        if base_url is None:
            raise ConfigError(
                f"provider {name!r} needs a base_url",
                file=self.config.source,
                key=f"providers.{name}.base_url",
            )
        return Provider(
            name=name,
            base_url=base_url,
            api_key=read_api_key(name, settings, self.config.source),
            timeout_s=settings.timeout_s,
            headers=dict(settings.headers),
            proxy=settings.proxy,
        )

    async def aclose(self) -> None:
        for adapter in self._adapters.values():
            await adapter.aclose()
        self._adapters.clear()
        for provider in self._providers.values():
            await provider.aclose()  # an embeddings-only provider has no chat adapter to close it
        self._providers.clear()
        self._embedders.clear()
        for process in self._emulators.values():
            process.stop()
        self._emulators.clear()
