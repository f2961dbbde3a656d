"""Cache counters per namespace: kept in the process and flushed to the backend, so
``inferopt cache stats`` sees every process's hits, misses and savings."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from inferopt.cache.backend import StatsDeltas
from inferopt.errors import PricingError, UnknownModelError
from inferopt.pricing import PriceCatalog, cost_of
from inferopt.types import Usage

COUNTERS = (
    "hits",
    "semantic_hits",
    "semantic_checked",
    "semantic_wrong",
    "misses",
    "bypasses",
    "refreshes",
    "upstream_calls",
    "backend_errors",
    "saved_input_tokens",
    "saved_output_tokens",
    "saved_usd",
)


@dataclass(frozen=True, slots=True)
class NamespaceStats:
    """A readable view of one namespace's counters."""

    namespace: str
    hits: int = 0
    semantic_hits: int = 0
    semantic_checked: int = 0  # semantic hits given feedback (mark_hit / report_wrong_hit)
    semantic_wrong: int = 0  # of them, reported wrong
    misses: int = 0
    bypasses: int = 0
    refreshes: int = 0
    upstream_calls: int = 0
    backend_errors: int = 0
    saved_input_tokens: int = 0
    saved_output_tokens: int = 0
    saved_usd: float = 0.0
    entries: int | None = None

    @property
    def lookups(self) -> int:
        return self.hits + self.semantic_hits + self.misses

    @property
    def hit_rate(self) -> float:
        """(Exact + semantic hits) / lookups; 0.0 before any lookup."""
        return (self.hits + self.semantic_hits) / self.lookups if self.lookups else 0.0

    @classmethod
    def from_counters(cls, namespace: str, counters: Mapping[str, float], entries: int | None = None) -> NamespaceStats:
        values = {name: counters.get(name, 0.0) for name in COUNTERS}
        ints = {name: round(v) for name, v in values.items() if name != "saved_usd"}
        return cls(namespace=namespace, saved_usd=values["saved_usd"], entries=entries, **ints)


def saved_cost(usage: Usage, models: tuple[str, ...], catalog: PriceCatalog | None) -> float:
    """What the original call cost (so what a hit saved), from the catalog; 0.0 if no price is known."""
    for model in models:
        try:
            return cost_of(usage, model, catalog=catalog)
        except (UnknownModelError, PricingError, ValueError):
            continue
    return 0.0


class CacheStats:
    """Counters of one ``Cached`` layer; deltas not yet written are flushed every ``flush_interval_s``."""

    def __init__(self, *, flush_interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.flush_interval_s = flush_interval_s
        self._clock = clock
        self._totals: dict[str, StatsDeltas] = defaultdict(dict)
        self._pending: dict[str, StatsDeltas] = defaultdict(dict)
        self._last_flush = clock()

    def add(self, namespace: str, **deltas: float) -> None:
        for name, value in deltas.items():
            for table in (self._totals[namespace], self._pending[namespace]):
                table[name] = table.get(name, 0.0) + value

    def record_hit(self, namespace: str, usage: Usage, saved_usd: float, *, semantic: bool = False) -> None:
        self.add(
            namespace,
            **{"semantic_hits" if semantic else "hits": 1},
            saved_input_tokens=usage.input_tokens,
            saved_output_tokens=usage.output_tokens,
            saved_usd=saved_usd,
        )

    def snapshot(self, namespace: str | None = None) -> dict[str, NamespaceStats]:
        """This process's counters (the backend holds every process's: see ``read_stats``)."""
        return {
            ns: NamespaceStats.from_counters(ns, counters)
            for ns, counters in self._totals.items()
            if namespace is None or ns == namespace
        }

    def due(self) -> bool:
        return bool(self._pending) and self._clock() - self._last_flush >= self.flush_interval_s

    def take_pending(self) -> dict[str, StatsDeltas]:
        pending, self._pending = dict(self._pending), defaultdict(dict)
        self._last_flush = self._clock()
        return pending
