"""In-process LRU backend, bounded by entry count and by bytes, with TTLs on an injectable clock."""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable

from inferopt.cache.backend import StatsDeltas, namespace_of
from inferopt.errors import InvalidArgumentError


class MemoryBackend:
    """Least-recently-used eviction once ``max_entries`` or ``max_bytes`` would be exceeded.

    Lives as long as the process: use SQLite or Redis to keep answers across restarts or share them.
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_bytes: int = 256 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise InvalidArgumentError("max_entries and max_bytes must be at least 1")
        self.url = "memory://"
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._bytes = 0
        self._stats: dict[str, StatsDeltas] = defaultdict(dict)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        item = self._entries.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and self._clock() >= expires:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: float | None) -> None:
        if len(value) > self.max_bytes:
            return  # larger than the whole cache: storing it would evict everything for nothing
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (value, None if ttl_s is None else self._clock() + ttl_s)
        self._bytes += len(value)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    async def delete(self, key: str) -> None:
        if key in self._entries:
            self._drop(key)

    async def clear(self, namespace: str | None = None) -> int:
        doomed = [k for k in self._entries if namespace is None or namespace_of(k) == namespace]
        for key in doomed:
            self._drop(key)
        if namespace is None:
            self._stats.clear()
        else:
            self._stats.pop(namespace, None)
        return len(doomed)

    async def entry_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for key in self._entries:
            counts[namespace_of(key)] += 1
        return dict(counts)

    async def add_stats(self, namespace: str, deltas: StatsDeltas) -> None:
        totals = self._stats[namespace]
        for name, value in deltas.items():
            totals[name] = totals.get(name, 0.0) + value

    async def read_stats(self) -> dict[str, StatsDeltas]:
        return {ns: dict(values) for ns, values in self._stats.items()}

    async def aclose(self) -> None:
        return None

    def _drop(self, key: str) -> None:
        value, _ = self._entries.pop(key)
        self._bytes -= len(value)
