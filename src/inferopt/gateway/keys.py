"""Virtual API keys: who may call the gateway, which models, how fast, and for how many dollars.

A virtual key is a random secret (``sk-io-...``) handed to one caller; the gateway stores only its
SHA-256 (the secret is shown once, at creation). Each key may carry:

- ``budget_usd``: dollars it may spend in total. Checks are atomic: a request **reserves** its
  worst-case cost (prompt tokens plus ``max_tokens`` at the model's prices) before it is sent and
  **settles** to the actual cost when it ends, so concurrent requests cannot overspend together.
  (Without ``max_tokens`` the reservation assumes ``default_output_tokens``; set ``max_tokens`` for
  a hard guarantee.)
- ``rpm`` / ``tpm``: requests and tokens per minute (fixed one-minute windows).
- ``models``: the model names it may ask for (None: any).
- ``cache_namespace``: its answer-cache namespace (passed to the cache as ``options["namespace"]``).
  Unset, a key's namespace is its own id (:attr:`VirtualKey.namespace`), so tenants never read each
  other's cached answers, exact or semantic. Keys share answers only when given the same
  ``cache_namespace`` on purpose (or when the cache layer pins one: ``allow_request_namespace: false``).

Stores: :class:`~inferopt.gateway.keys_sqlite.SQLiteKeyStore` (one file, atomic across the worker
processes of one machine; ``:memory:`` for a single process) and
:class:`~inferopt.gateway.keys_redis.RedisKeyStore` (atomic Lua scripts; shared by every worker and
replica). :func:`~inferopt.gateway.key_stores.open_key_store` picks one from a URL.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
from dataclasses import dataclass
from typing import Protocol

from inferopt.errors import BudgetExceededError, ConfigError, KeyLimitError

SECRET_PREFIX = "sk-io-"
WINDOW_S = 60


def hash_secret(secret: str) -> str:
    """The stored form of a key. Secrets are 128 random bits, so a fast hash suffices (no salt needed)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(24)


def new_key_id() -> str:
    return "key_" + os.urandom(6).hex()


def window_of(now: float) -> int:
    return int(now // WINDOW_S)


def seconds_to_next_window(now: float) -> float:
    return WINDOW_S - (now % WINDOW_S)


@dataclass(frozen=True, slots=True)
class VirtualKey:
    """One key's settings (never its secret)."""

    id: str
    name: str
    budget_usd: float | None = None
    rpm: int | None = None
    tpm: int | None = None
    models: frozenset[str] | None = None
    cache_namespace: str | None = None

    @property
    def namespace(self) -> str:
        """The answer-cache namespace of this key's calls: its own id unless one was set on purpose."""
        return self.cache_namespace or self.id

    def allows(self, model: str) -> bool:
        return self.models is None or model in self.models

    def check_model(self, model: str) -> None:
        if not self.allows(model):
            raise KeyLimitError(
                f"key {self.name!r} may not use model {model!r}; allowed: {', '.join(sorted(self.models or ()))}. "
                "Ask the gateway operator to add it to the key's models",
                status=403,
                code="model_not_allowed",
            )


@dataclass(frozen=True, slots=True)
class Reservation:
    """What :meth:`KeyStore.admit` set aside, to be settled once the actual usage is known."""

    key_id: str
    usd: float
    tokens: int
    window: int


class KeyStore(Protocol):
    """Where keys and their spend live. ``admit`` is atomic: check limits and reserve in one step."""

    async def lookup(self, secret: str) -> VirtualKey | None: ...

    async def admit(self, key: VirtualKey, usd: float, tokens: int, now: float) -> Reservation: ...

    async def settle(self, reservation: Reservation, usd: float, tokens: int) -> None: ...

    async def spend(self, key_id: str) -> tuple[float, float]:
        """``(spent_usd, reserved_usd)`` of a key."""
        ...

    async def create(
        self,
        name: str,
        *,
        budget_usd: float | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        models: list[str] | None = None,
        cache_namespace: str | None = None,
    ) -> tuple[VirtualKey, str]:
        """A new key and its secret (shown only here; only its hash is stored)."""
        ...

    async def list_keys(self) -> list[VirtualKey]: ...

    async def revoke(self, key_id: str) -> bool: ...

    async def aclose(self) -> None: ...


def over_budget(key: VirtualKey, spent: float, reserved: float, usd: float) -> BudgetExceededError:
    return BudgetExceededError(
        f"key {key.name!r} budget of ${key.budget_usd:.4f} would be exceeded: spent ${spent:.6f}, "
        f"in flight ${reserved:.6f}, this request may cost up to ${usd:.6f}. Lower max_tokens or ask the "
        "gateway operator to raise the key's budget",
        limit_usd=key.budget_usd,
        spent_usd=spent,
    )


def over_rate(key: VirtualKey, what: str, limit: int, now: float) -> KeyLimitError:
    wait = seconds_to_next_window(now)
    return KeyLimitError(
        f"key {key.name!r} reached its {what} limit of {limit} per minute; retry in {math.ceil(wait)} s",
        status=429,
        code="rate_limit_exceeded",
        retry_after_s=wait,
    )


def check_new_key(budget_usd: float | None, rpm: int | None, tpm: int | None, cache_namespace: str | None) -> None:
    if budget_usd is not None and budget_usd < 0:
        raise ConfigError(f"budget_usd must be >= 0 (got {budget_usd})", key="budget_usd")
    for name, value in (("rpm", rpm), ("tpm", tpm)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be at least 1 (got {value}); leave it unset for no limit", key=name)
    if cache_namespace is not None and (not cache_namespace or ":" in cache_namespace):
        raise ConfigError(f"cache_namespace {cache_namespace!r} must be non-empty without ':'", key="cache_namespace")
