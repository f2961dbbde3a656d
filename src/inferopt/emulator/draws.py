"""Per-request randomness that depends only on the seed and the request, never on timing.

Latency jitter is drawn from (seed, model, prompt): the same request always gets the same
latency. Faults are drawn from (seed, model, prompt, occurrence), where the occurrence counts
identical requests seen so far: a retried request gets a fresh draw (so a 10% error rate does
not fail the same request forever), yet a rerun with the same seed replays the same sequence.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from inferopt.emulator.config import FaultConfig

FaultKind = Literal["none", "error", "rate_limit", "hang", "drop", "stall"]
_UNIT = float(1 << 64)


def uniforms(seed: int, key: bytes, purpose: bytes, n: int) -> list[float]:
    """``n`` uniform floats in [0, 1) that are a pure function of the arguments."""
    h = hashlib.blake2b(key, digest_size=8 * n, person=purpose[:16].ljust(16, b"\0"))
    h.update(seed.to_bytes(8, "little", signed=True))
    raw = h.digest()
    return [int.from_bytes(raw[i : i + 8], "little") / _UNIT for i in range(0, 8 * n, 8)]


class OccurrenceCounter:
    """How many times each request identity was seen; bounded, forgetting the oldest first."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._counts: OrderedDict[bytes, int] = OrderedDict()
        self._max = max_entries

    def next(self, key: bytes) -> int:
        """0 for the first sighting of ``key``, then 1, 2, ..."""
        n = self._counts.get(key, -1) + 1
        self._counts[key] = n
        self._counts.move_to_end(key)
        if len(self._counts) > self._max:
            self._counts.popitem(last=False)
        return n


@dataclass(frozen=True, slots=True)
class RequestDraws:
    """The random choices of one request."""

    latency: float
    fault: FaultKind


def draw(
    seed: int, key: bytes, occurrence: int, faults: FaultConfig, profile_error_rate: float, *, jitter: bool = True
) -> RequestDraws:
    """Latency from the request alone; the fault (if any) from the request and its occurrence.

    ``jitter=False`` (a fixed latency, which needs no draw) skips the latency draw: it is then 0.5.
    """
    latency = uniforms(seed, key, b"latency", 1)[0] if jitter else 0.5
    if not (faults.any or profile_error_rate):
        return RequestDraws(latency, "none")
    u_limit, u_error, u_hang, u_drop = uniforms(seed, key + occurrence.to_bytes(8, "little"), b"fault", 4)
    fault: FaultKind = "none"
    if u_limit < faults.rate_limit_rate:
        fault = "rate_limit"
    elif u_error < min(1.0, faults.error_rate + profile_error_rate):
        fault = "error"
    elif u_hang < faults.hang_rate:
        fault = "hang"
    elif u_drop < faults.drop_rate:
        fault = "drop"
    elif (
        faults.stall_rate and uniforms(seed, key + occurrence.to_bytes(8, "little"), b"stall", 1)[0] < faults.stall_rate
    ):
        fault = "stall"  # its own draw, so adding the stall rate left the other faults' draws as they were
    return RequestDraws(latency, fault)
