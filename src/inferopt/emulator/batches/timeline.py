"""When a batch's lines are done: a pure function of the clock, the delay and a cancel, if any.

A batch works through its lines evenly over ``delay_s`` (so a status poll mid-way shows real
progress) and ends at ``created + delay_s``, unless it is cancelled first (the lines not yet done
are cancelled) or the delay runs past the 24-hour completion window (the rest expire).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

COMPLETION_WINDOW_S = 24 * 3600.0

Phase = Literal["in_progress", "cancelling", "ended"]
Ending = Literal["completed", "cancelled", "expired"]


@dataclass(slots=True)
class Timeline:
    """The schedule of one batch, in seconds of the emulator's monotonic clock."""

    created: float
    delay_s: float
    total: int
    cancel_requested: float | None = None
    cancel_reported: bool = False

    @property
    def ready_at(self) -> float:
        return self.created + min(self.delay_s, COMPLETION_WINDOW_S)

    @property
    def expires(self) -> bool:
        return self.delay_s > COMPLETION_WINDOW_S

    def done_at(self, now: float) -> int:
        """How many lines (in processing order) are finished at ``now``."""
        if self.cancel_requested is not None:
            now = min(now, self.cancel_requested)
        if now >= self.created + self.delay_s:
            return self.total
        if now >= self.created + COMPLETION_WINDOW_S:
            return int(self.total * COMPLETION_WINDOW_S / self.delay_s)
        if self.delay_s <= 0:
            return self.total
        return min(self.total, int(self.total * (now - self.created) / self.delay_s))

    def phase(self, now: float) -> Phase:
        """Where the batch is; a cancel shows as ``cancelling`` once, then the batch has ended."""
        if self.cancel_requested is not None and self.cancel_requested < self.ready_at:
            if not self.cancel_reported:
                return "cancelling"
            return "ended"
        return "ended" if now >= self.ready_at else "in_progress"

    def ending(self) -> Ending:
        """How an ended batch ended."""
        if self.cancel_requested is not None and self.cancel_requested < self.ready_at:
            return "cancelled"
        return "expired" if self.expires else "completed"

    def ended_at(self) -> float:
        if self.ending() == "cancelled" and self.cancel_requested is not None:
            return self.cancel_requested
        return self.ready_at

    def cancel(self, now: float) -> bool:
        """Request a cancel at ``now``; False when the batch had already ended or was cancelled."""
        if self.cancel_requested is not None or now >= self.ready_at:
            return False
        self.cancel_requested = now
        return True


@dataclass(frozen=True, slots=True)
class BatchClock:
    """The emulator's monotonic clock, and the Unix time it stands for (for API timestamps)."""

    monotonic: Callable[[], float]
    epoch: float  # Unix time at monotonic 0

    @classmethod
    def starting_now(cls, monotonic: Callable[[], float]) -> BatchClock:
        return cls(monotonic, time.time() - monotonic())

    def now(self) -> float:
        return self.monotonic()

    def unix(self, at: float) -> int:
        return int(self.epoch + at)
