"""The storage seam of the answer cache: bytes under string keys, plus per-namespace counters.

Keys look like ``<namespace>:<digest>`` (see :mod:`inferopt.cache.keys`), so a backend can clear
or count one namespace. A backend may also offer :class:`FillLock` (a lock across processes for
single-flight); Redis does, the in-process backends do not need one.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

StatsDeltas = dict[str, float]


def namespace_of(key: str) -> str:
    return key.split(":", 1)[0]


@runtime_checkable
class CacheBackend(Protocol):
    """Where entries live. Methods may raise on backend failure; ``Cached`` fails open around them."""

    url: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float | None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def clear(self, namespace: str | None = None) -> int:
        """Remove every entry (of ``namespace``) and its stats; return how many entries went."""
        ...

    async def entry_counts(self) -> dict[str, int]: ...

    async def add_stats(self, namespace: str, deltas: StatsDeltas) -> None: ...

    async def read_stats(self) -> dict[str, StatsDeltas]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class FillLock(Protocol):
    """A lock across processes: one filler per key, the others wait for its answer without spinning."""

    async def acquire_fill(self, key: str, ttl_s: float) -> str | None:
        """A token if this caller now fills ``key``; None if another holds the lock."""
        ...

    async def release_fill(self, key: str, token: str) -> None:
        """Release (only if still ours) and wake the waiters."""
        ...

    async def wait_fill(self, key: str, timeout_s: float) -> None:
        """Return when the lock on ``key`` is released or gone, or after ``timeout_s``."""
        ...
