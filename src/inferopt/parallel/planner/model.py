"""A job plan: how many rows go each way, what they cost and when they finish."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ROUTES = ("cache", "realtime", "flex", "batch")


@dataclass(frozen=True, slots=True)
class Share:
    """The rows of a job answered one way, their predicted cost (USD) and finish (seconds from start).

    ``finish_low_s``/``finish_high_s`` bound the finish time: a rate limit sustained at 98% to the
    full rate for realtime and flex, the provider's typical time to its promised window for a batch.
    """

    route: str
    rows: int
    cost_usd: float
    finish_s: float
    finish_low_s: float
    finish_high_s: float


@dataclass(frozen=True, slots=True)
class PlannedJob:
    """The whole plan. ``realtime_only_usd`` is what the same rows would cost sent live, uncached."""

    model: str
    total_rows: int
    deadline_s: float
    budget_usd: float | None
    shares: tuple[Share, ...]
    realtime_only_usd: float
    batch_only_usd: float | None
    warnings: tuple[str, ...] = field(default=())

    def rows(self, route: str) -> int:
        return sum(s.rows for s in self.shares if s.route == route)

    @property
    def cost_usd(self) -> float:
        return sum(s.cost_usd for s in self.shares)

    @property
    def finish_s(self) -> float:
        return max((s.finish_s for s in self.shares if s.rows), default=0.0)

    @property
    def finish_low_s(self) -> float:
        return max((s.finish_low_s for s in self.shares if s.rows), default=0.0)

    @property
    def finish_high_s(self) -> float:
        return max((s.finish_high_s for s in self.shares if s.rows), default=0.0)

    @property
    def saved_usd(self) -> float:
        return self.realtime_only_usd - self.cost_usd

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "total_rows": self.total_rows,
            "deadline_s": self.deadline_s,
            "budget_usd": self.budget_usd,
            "rows": {route: self.rows(route) for route in ROUTES},
            "shares": [asdict(s) for s in self.shares],
            "cost_usd": round(self.cost_usd, 8),
            "finish_s": round(self.finish_s, 3),
            "finish_low_s": round(self.finish_low_s, 3),
            "finish_high_s": round(self.finish_high_s, 3),
            "realtime_only_usd": round(self.realtime_only_usd, 8),
            "batch_only_usd": None if self.batch_only_usd is None else round(self.batch_only_usd, 8),
            "saved_usd": round(self.saved_usd, 8),
            "warnings": list(self.warnings),
        }

    def lines(self) -> list[str]:
        """The plan as a user reads it, one line a share, then the totals."""
        out = [f"plan for {self.total_rows} rows on {self.model}, deadline {format_duration(self.deadline_s)}"]
        for s in self.shares:
            if s.rows:
                when = "at once" if s.route == "cache" else f"done by {format_duration(s.finish_s)}"
                out.append(f"  {s.route:<9}{s.rows:>9} rows  ${s.cost_usd:.4f}  {when}")
        out.append(
            f"cost        ${self.cost_usd:.4f} predicted"
            + (f" (budget ${self.budget_usd:g})" if self.budget_usd is not None else "")
        )
        out.append(
            f"finish      {format_duration(self.finish_s)} predicted "
            f"({format_duration(self.finish_low_s)} to {format_duration(self.finish_high_s)})"
        )
        share = self.saved_usd / self.realtime_only_usd if self.realtime_only_usd else 0.0
        out.append(
            f"saving      ${self.saved_usd:.4f} ({share:.0%}) against all-realtime ${self.realtime_only_usd:.4f}"
        )
        out.extend(f"warning     {w}" for w in self.warnings)
        return out


def format_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"
