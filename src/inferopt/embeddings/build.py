"""From a resolved route to the :class:`EmbeddingModel` that serves it: the provider's embeddings adapter
(or an injected one), priced, under the per-item cache when the config's stack has a ``cache`` layer.

Of the stack, ``cache`` (the same ``url``, ``namespace`` and ``ttl_s``; per input), ``retry`` and
``rate_limit`` (the same options; :mod:`.resilience`) apply to embeddings, in the stack's order;
the other layers (prompt caching, metering) are chat's. Routers are chat's too: embed with a model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from inferopt.embeddings.cache import cached_embeddings_from_options
from inferopt.embeddings.pricing import PricedEmbeddings
from inferopt.embeddings.resilience import limited_embeddings_from_options, retrying_embeddings_from_options
from inferopt.embeddings.types import EmbeddingInput, EmbeddingModel, EmbeddingRequest
from inferopt.errors import InvalidArgumentError
from inferopt.wire.openai_embeddings import inputs_of

if TYPE_CHECKING:
    from inferopt.config import Config
    from inferopt.pricing import PriceCatalog
    from inferopt.resolve import Resolver, Route

EmbedInputs = str | Sequence[EmbeddingInput] | Sequence[int] | EmbeddingRequest


def embedding_request(
    inputs: EmbedInputs, *, model: str, dimensions: int | None = None, **params: Any
) -> EmbeddingRequest:
    """An EmbeddingRequest from a string, a token array, a list of either, or a request."""
    if isinstance(inputs, EmbeddingRequest):
        return inputs if inputs.model == model and dimensions is None else _with(inputs, model, dimensions)
    unknown = set(params) - {"user", "extra", "options"}
    if unknown:
        raise TypeError(f"unknown embed parameter(s) {sorted(unknown)}: pass other body fields as extra={{...}}")
    items = inputs_of(inputs if isinstance(inputs, str) else list(inputs))
    if not items or any(not isinstance(i, str | list) for i in items):
        raise InvalidArgumentError("embed() needs a string, a token array, or a non-empty list of either")
    return EmbeddingRequest(model=model, inputs=items, dimensions=dimensions, **params)


def _with(request: EmbeddingRequest, model: str, dimensions: int | None) -> EmbeddingRequest:
    out = request.with_model(model)
    if dimensions is not None:
        out.dimensions = dimensions
    return out


def build_embedder(
    route: Route, injected: object, resolver: Resolver, config: Config, catalog: PriceCatalog
) -> EmbeddingModel:
    """The embedder of ``route``, priced from ``catalog`` (and cached with a ``cache`` layer)."""
    if route.provider == "router":
        raise InvalidArgumentError(f"{route.requested!r} is a chat router; embed with a model or an alias")
    if route.provider == "injected":
        if not isinstance(injected, EmbeddingModel):
            raise InvalidArgumentError(f"the injected model {route.model!r} has no embed() method")
        inner: EmbeddingModel = injected
    else:
        inner = resolver.embedder_for(route)
    for layer in reversed(config.stack):  # the stack lists layers outermost first
        ((name, options),) = layer.items()
        if name in _LAYERS:
            inner = _LAYERS[name](inner, dict(options or {}))
    embedder: EmbeddingModel = PricedEmbeddings(inner, catalog, route.model)
    for layer in config.stack:  # the cache sits outside the pricing: a hit costs nothing
        if "cache" in layer:
            embedder = cached_embeddings_from_options(embedder, dict(layer["cache"] or {}))
    return embedder


_LAYERS: dict[str, Callable[[EmbeddingModel, Mapping[str, Any]], EmbeddingModel]] = {
    "retry": retrying_embeddings_from_options,
    "rate_limit": limited_embeddings_from_options,
}
