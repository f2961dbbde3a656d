"""What a planned run did: rows and cost by route, late rows, rows paid twice, and its progress line."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from inferopt.parallel.planner.model import ROUTES
from inferopt.parallel.planner.model import format_duration as _d

if TYPE_CHECKING:
    from inferopt.parallel.planner.batches import BatchShare


@dataclass
class PlanRun:
    deadline_s: float
    total: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    cost_usd: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    late: int = 0  # answered after the deadline
    paid_twice: int = 0  # answered a second time (a batch slow to cancel, answered live too)
    paid_twice_usd: float = 0.0
    moved: int = 0  # rows moved off a batch to the live pool
    moved_to_flex: int = 0  # of them, sent on flex
    flex_refused: int = 0
    held: int = 0  # not sent: over --budget
    finished_s: float = 0.0
    shares: list[BatchShare] = field(default_factory=list)  # the BatchShares, for their predicted finish
    _answered: bytearray = field(default_factory=bytearray)  # one bit a row, by input index

    def answer(self, index: int, route: str, cost_usd: float, at_s: float) -> bool:
        """Count one answer; False (counted as paid twice, not to be written) for a row already answered."""
        byte, bit = index >> 3, 1 << (index & 7)
        if byte >= len(self._answered):
            self._answered.extend(bytes(byte + 1 - len(self._answered) + len(self._answered) // 2))
        if self._answered[byte] & bit:
            self.paid_twice += 1
            self.paid_twice_usd += cost_usd
            return False
        self._answered[byte] |= bit
        self.rows[route] += 1
        self.cost_usd[route] += cost_usd
        self.late += int(at_s > self.deadline_s)
        self.finished_s = max(self.finished_s, at_s)
        return True

    @property
    def done(self) -> int:
        return sum(self.rows.values())

    @property
    def total_cost_usd(self) -> float:
        return sum(self.cost_usd.values()) + self.paid_twice_usd

    def predicted_finish_s(self, now_s: float, live_waiting: int, live_rows_per_s: float) -> float:
        """When the last row should be answered: the live queue at its rate, or the slowest batch."""
        live = now_s + (live_waiting / live_rows_per_s if live_rows_per_s > 0 else 0.0)
        batches = [s.predicted_finish_s for s in self.shares if s.predicted_finish_s is not None]
        return max([live, *batches])

    def progress(self, now_s: float, live_waiting: int, live_rows_per_s: float) -> str:
        finish = self.predicted_finish_s(now_s, live_waiting, live_rows_per_s)
        return (
            f"progress    {self.done}/{self.total} rows · ${self.total_cost_usd:.4f} so far · "
            f"predicted finish {_d(finish)} (deadline {_d(self.deadline_s)}, {_d(now_s)} elapsed)"
        )

    def lines(self) -> list[str]:
        parts = [f"{route} {self.rows[route]} (${self.cost_usd[route]:.6f})" for route in ROUTES if self.rows[route]]
        out = [f"routes      {', '.join(parts) or 'none'} = ${sum(self.cost_usd.values()):.6f}"]
        out.append(
            f"on time     last row at {self.finished_s:.1f} s of the {self.deadline_s:.0f} s deadline; "
            f"{self.late} rows late"
        )
        moves = []
        if self.moved:
            moves.append(
                f"{self.moved} rows moved off a late or cancelled batch "
                f"({self.moved_to_flex} to flex, {self.moved - self.moved_to_flex} to realtime)"
            )
        if self.flex_refused:
            moves.append(f"{self.flex_refused} flex refusals sent realtime instead")
        if moves:
            out.append(f"re-planned  {'; '.join(moves)}")
        out.append(
            f"paid twice  {self.paid_twice} rows (${self.paid_twice_usd:.6f})"
            + (": a cancelled batch answered them after they were sent live" if self.paid_twice else "")
        )
        if self.held:
            out.append(
                f"budget      {self.held} rows not sent: their predicted cost would pass --budget; "
                "run again with a larger --budget to answer them"
            )
        return out
