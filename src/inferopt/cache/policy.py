"""What to cache and when to look: a pure decision over the request and the wrapper's settings.

Per-request switches live in ``request.options`` (never sent upstream, never part of the key):

- ``options={"cache": "bypass"}``: neither read nor write the cache for this request;
- ``options={"cache": "refresh"}``: skip the read, call upstream, overwrite the entry;
- ``options={"cache": "use"}``: cache this request even if the policy would not (e.g. temperature 0.7);
- ``options={"namespace": "tenant-a"}``: the tenant's namespace, unless the wrapper pins one
  (``allow_request_namespace=False``).

By default only deterministic requests are cached: temperature 0, or a seed set. A request with no
temperature uses the provider's default (1.0 for OpenAI and Anthropic), so it is not deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from inferopt.errors import InvalidArgumentError
from inferopt.types import ChatRequest

CACHE_OPTION = "cache"
NAMESPACE_OPTION = "namespace"
_MODES = ("bypass", "refresh", "use")


class HasOptions(Protocol):
    """A request of any seam (chat, embeddings): its per-request switches are in ``options``."""

    options: dict[str, Any]


class Action(Enum):
    LOOKUP = "lookup"  # read; on a miss call upstream and write
    REFRESH = "refresh"  # do not read; call upstream and write
    BYPASS = "bypass"  # neither read nor write


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Settings of one ``Cached`` layer.

    ``cache_nondeterministic``: also cache requests with temperature > 0 and no seed (their answer
    would vary upstream; a cache makes it fixed). ``ttl_s``: entry lifetime (None: until evicted).
    ``normalise``: fold case and whitespace in the key, for namespaces listed in
    ``normalise_namespaces`` (empty: every namespace when ``normalise`` is on).
    """

    namespace: str = "default"
    allow_request_namespace: bool = True
    cache_nondeterministic: bool = False
    ttl_s: float | None = None
    normalise: bool = False
    normalise_namespaces: frozenset[str] = frozenset()
    cache_errors_finish: bool = False  # cache answers that ended with finish_reason "error"

    def __post_init__(self) -> None:
        if not self.namespace or ":" in self.namespace:
            raise InvalidArgumentError(f"namespace {self.namespace!r} must be non-empty and contain no ':'")
        if self.ttl_s is not None and self.ttl_s <= 0:
            raise InvalidArgumentError(f"ttl_s must be positive or None, got {self.ttl_s}")

    def namespace_for(self, request: HasOptions) -> str:
        requested = request.options.get(NAMESPACE_OPTION)
        if requested is None or not self.allow_request_namespace:
            return self.namespace
        name = str(requested)
        if not name or ":" in name:
            raise InvalidArgumentError(f"request option namespace={name!r} must be non-empty and contain no ':'")
        return name

    def normalises(self, namespace: str) -> bool:
        return self.normalise and (not self.normalise_namespaces or namespace in self.normalise_namespaces)

    def action_for(self, request: ChatRequest) -> Action:
        mode = request.options.get(CACHE_OPTION)
        if mode is not None and mode not in _MODES:
            raise InvalidArgumentError(f"request option cache={mode!r} is not one of {', '.join(_MODES)}")
        if mode == "bypass":
            return Action.BYPASS
        if mode == "refresh":
            return Action.REFRESH
        if mode == "use" or self.cache_nondeterministic or is_deterministic(request):
            return Action.LOOKUP
        return Action.BYPASS


def is_deterministic(request: ChatRequest) -> bool:
    """Temperature 0 or a fixed seed: the provider is asked for a repeatable answer."""
    return request.temperature == 0 or request.seed is not None
