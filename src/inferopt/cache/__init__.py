"""Answer caches (exact and semantic) and provider prompt caching.

::

    from inferopt.cache import Cached, cache_from_url

    model = cache_from_url("sqlite:///cache.db", namespace="tenant-a")(provider_model)

See ``docs/caching.md`` for policy, per-request switches, backends, stats and the semantic cache.
"""

from inferopt.cache.backend import CacheBackend, FillLock
from inferopt.cache.entry import CachedAnswer
from inferopt.cache.keys import cache_key, context_key, request_identity
from inferopt.cache.memory import MemoryBackend
from inferopt.cache.policy import Action, CachePolicy, is_deterministic
from inferopt.cache.sqlite import SQLiteBackend
from inferopt.cache.stats import NamespaceStats
from inferopt.cache.url import backend_from_url, cache_from_url, cached_from_options
from inferopt.cache.wrapper import Cached

__all__ = [
    "Action",
    "CacheBackend",
    "CachePolicy",
    "Cached",
    "CachedAnswer",
    "FillLock",
    "MemoryBackend",
    "NamespaceStats",
    "SQLiteBackend",
    "backend_from_url",
    "cache_from_url",
    "cache_key",
    "cached_from_options",
    "context_key",
    "is_deterministic",
    "request_identity",
]
