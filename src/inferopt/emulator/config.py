"""Settings of one emulator: seed, profiles, replay data, overrides, faults, clock and sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from inferopt.emulator.profiles import ProfileOverrides
from inferopt.errors import ConfigError


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Injected failures, drawn per request from the seed (so a run can be replayed).

    Each rate is a probability in [0, 1]:

    - ``error_rate``: answer 500 (added to each profile's own ``error_rate``).
    - ``rate_limit_rate``: start a 429 burst: this request and every request of the same API key
      and model for the next ``rate_limit_burst_s`` seconds get 429 with ``Retry-After``.
    - ``hang_rate``: never answer (until ``hang_s`` or the client gives up): a timeout.
    - ``drop_rate``: close the connection part-way: a stream stops after about
      ``drop_after_fraction`` of its chunks, without its final event; a non-streamed answer is cut
      after that fraction of its body.
    - ``stall_rate``: go silent part-way (after ``drop_after_fraction``, as a drop) until the client
      gives up (or ``hang_s``).
    - ``slow_first_token_s``: every answer's first token (a whole answer: its body) this much later.
    """

    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    rate_limit_burst_s: float = 1.0
    hang_rate: float = 0.0
    hang_s: float = 3600.0
    drop_rate: float = 0.0
    drop_after_fraction: float = 0.5
    stall_rate: float = 0.0
    slow_first_token_s: float = 0.0

    def __post_init__(self) -> None:
        rates = ("error_rate", "rate_limit_rate", "hang_rate", "drop_rate", "drop_after_fraction", "stall_rate")
        for name in rates:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"must be between 0 and 1 (got {value!r})", key=f"faults.{name}")
        if self.slow_first_token_s < 0:
            raise ConfigError(
                f"must be >= 0 seconds (got {self.slow_first_token_s!r})", key="faults.slow_first_token_s"
            )

    @property
    def any(self) -> bool:
        """Whether any fault is drawn per request (a slow first token needs no draw)."""
        return bool(self.error_rate or self.rate_limit_rate or self.hang_rate or self.drop_rate or self.stall_rate)


@dataclass(frozen=True, slots=True)
class EmulatorBatchLimits:
    """Provider Batch API limits the emulator enforces: by default the providers' published ones.

    OpenAI: 50,000 requests and 200 MB per batch input file; Anthropic: 100,000 requests or
    256 MB per Message Batch, whichever comes first (MB read as MiB, the larger reading).
    """

    openai_max_requests: int = 50_000
    openai_max_bytes: int = 200 * 1024 * 1024
    anthropic_max_requests: int = 100_000
    anthropic_max_bytes: int = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything an emulator needs; every field has a working default.

    - ``seed``: answers, lengths, latency draws and faults are functions of it and the request.
    - ``profiles_file``: JSON/YAML merged over the shipped profiles (see ``profiles.py``).
    - ``replay_paths``: RouterBench-format CSV files (or folders of them) whose recorded answers
      are served when a prompt matches; read once, when the app is created.
    - ``overrides``: fields forced on every profile (fixed latency, speed, rpm/tpm).
    - ``answer_tokens``: range of the seeded length of generated answers without ``max_tokens``.
    - ``openai_cache_ttl_s``: how long an unused OpenAI prompt prefix stays cached (OpenAI
      documents 5-10 minutes of inactivity; the low end is the default).
    - ``clock``/``sleep``: injectable time (monotonic seconds) and latency sleep, for tests.
    - ``batch_delay_s``: how long a Batch API batch takes to complete (seconds of ``clock``).
    - ``batch_error_rate``: share of batch lines that end errored (a seeded draw per line).
    - ``batch_limits``: request and byte limits of batch input (see :class:`EmulatorBatchLimits`).
    - ``flex_refusal_rate``: share of OpenAI ``service_tier: "flex"`` requests refused with 429
      ``resource_unavailable`` (a seeded draw per request; refusals are not billed, as OpenAI documents).
    - ``flex_latency_factor``: a flex answer takes this many times the standard latency.
    """

    seed: int = 0
    profiles_file: str | Path | None = None
    replay_paths: Sequence[str | Path] = ()
    overrides: ProfileOverrides = field(default_factory=ProfileOverrides)
    faults: FaultConfig = field(default_factory=FaultConfig)
    answer_tokens: tuple[int, int] = (20, 200)
    openai_cache_ttl_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    batch_delay_s: float = 5.0
    batch_error_rate: float = 0.0
    batch_limits: EmulatorBatchLimits = field(default_factory=EmulatorBatchLimits)
    flex_refusal_rate: float = 0.0
    flex_latency_factor: float = 3.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.flex_refusal_rate <= 1.0:
            raise ConfigError(f"must be between 0 and 1 (got {self.flex_refusal_rate!r})", key="flex_refusal_rate")
        if self.flex_latency_factor < 0:
            raise ConfigError(f"must be >= 0 (got {self.flex_latency_factor!r})", key="flex_latency_factor")
        if not 0.0 <= self.batch_error_rate <= 1.0:
            raise ConfigError(f"must be between 0 and 1 (got {self.batch_error_rate!r})", key="batch_error_rate")
        if self.batch_delay_s < 0:
            raise ConfigError(f"must be >= 0 seconds (got {self.batch_delay_s!r})", key="batch_delay_s")
