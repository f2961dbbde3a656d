"""A job's spending limit: cost reserved when work is sent, settled with the real cost when it returns.

A realtime or flex request reserves its predicted cost as it starts; a provider batch reserves its
rows' predicted cost when it is submitted. When the answer (or the batch) comes back the
reservation is replaced by what it really cost. Work whose reservation does not fit is not sent:
it is left for the next run (with a larger ``--budget``), and the run says how many rows that is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Budget:
    """``limit_usd`` None means no limit; ``spent_usd`` starts at what earlier runs of the job paid."""

    limit_usd: float | None = None
    spent_usd: float = 0.0
    reserved_usd: float = 0.0
    refused: int = 0  # reservations that did not fit

    def reserve(self, usd: float) -> bool:
        """Hold ``usd`` for work about to be sent; False (nothing held) when it would pass the limit."""
        if self.limit_usd is not None and self.spent_usd + self.reserved_usd + usd > self.limit_usd:
            self.refused += 1
            return False
        self.reserved_usd += usd
        return True

    def settle(self, reserved_usd: float, cost_usd: float) -> None:
        """The work that reserved ``reserved_usd`` came back having cost ``cost_usd``."""
        self.reserved_usd = max(0.0, self.reserved_usd - reserved_usd)
        self.spent_usd += cost_usd

    @property
    def committed_usd(self) -> float:
        return self.spent_usd + self.reserved_usd
