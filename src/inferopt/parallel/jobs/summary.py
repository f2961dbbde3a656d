"""The numbers of a finished (or interrupted) job, and their one-screen rendering."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


LATENCY_SAMPLE = 100_000
_SAMPLER = random.Random(0)  # seeded: the same job reports the same percentiles


@dataclass
class JobStats:
    total: int = 0
    skipped: int = 0  # answered by an earlier run of the same job
    done: int = 0
    failed: int = 0
    invalid: int = 0
    retrying: int = 0
    not_started: int = 0  # left for the next run when the job's deadline passed
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    earlier_cost_usd: float = 0.0  # what the rows answered by earlier runs cost then
    cache_hits: int = 0
    cache_misses: int = 0
    cache_bypassed: int = 0  # not cacheable under the cache policy (e.g. --cache-policy deterministic)
    cache_saved_usd: float = 0.0
    latencies: list[float] = field(default_factory=list)  # a uniform sample of at most LATENCY_SAMPLE
    latency_sum_s: float = 0.0
    latency_count: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0

    def count(self, record: dict[str, Any], *, remote_retries: bool = False) -> None:
        """Add one finished row's record (from this process or a remote engine)."""
        if record["status"] != "ok":
            self.failed += 1
            self.failures[record["error"]["type"]] += 1
            return
        usage = record["usage"]
        self.done += 1
        self.input_tokens += usage["input_tokens"]
        self.output_tokens += usage["output_tokens"]
        self.cached_tokens += usage["cache_read_tokens"]
        self.cost_usd += record["cost_usd"] or 0.0
        self._latency(record["latency_s"])
        self.retries += record["attempts"] - 1 if remote_retries else 0
        cache = record.get("cache")
        if cache in ("hit", "semantic_hit"):
            self.cache_hits += 1
            self.cache_saved_usd += record.get("cache_saved_usd") or 0.0
        elif cache in ("miss", "refresh"):
            self.cache_misses += 1
        elif cache == "bypass":
            self.cache_bypassed += 1

    def _latency(self, seconds: float) -> None:
        """Keep a uniform sample of the latencies (reservoir sampling): percentiles in bounded memory."""
        self.latency_sum_s += seconds
        self.latency_count += 1
        if len(self.latencies) < LATENCY_SAMPLE:
            self.latencies.append(seconds)
        elif (slot := _SAMPLER.randrange(self.latency_count)) < LATENCY_SAMPLE:
            self.latencies[slot] = seconds

    @property
    def finished(self) -> int:
        return self.skipped + self.done + self.failed + self.invalid

    @property
    def sequential_s(self) -> float:
        """Time the same answers would have taken one after another: the sum of their latencies."""
        return self.latency_sum_s

    @property
    def speedup(self) -> float:
        return self.sequential_s / self.wall_s if self.wall_s > 0 else 0.0

    def lines(self) -> list[str]:
        ran = self.done + self.failed
        rate = ran / self.wall_s if self.wall_s > 0 else 0.0
        tokens = self.input_tokens + self.output_tokens
        lat = self.latencies
        out = [
            f"items       {self.total} total: {self.done} answered now, {self.skipped} answered earlier, "
            f"{self.failed} failed, {self.invalid} invalid input lines",
            f"wall time   {self.wall_s:.2f} s   throughput {rate:.1f} requests/s, "
            f"{tokens / self.wall_s if self.wall_s > 0 else 0:.0f} tokens/s",
            f"latency     p50 {percentile(lat, 50):.3f} s   p95 {percentile(lat, 95):.3f} s   "
            f"p99 {percentile(lat, 99):.3f} s",
            f"tokens      {self.input_tokens} in ({self.cached_tokens} cached), {self.output_tokens} out",
            f"cost        ${self.cost_usd:.6f}"
            + (f" now, ${self.earlier_cost_usd:.6f} earlier" if self.skipped else "")
            + (f"   retries {self.retries}" if self.retries else ""),
            f"speed-up    {self.speedup:.1f}x over sequential ({self.sequential_s:.1f} s of summed latency "
            f"in {self.wall_s:.1f} s)",
        ]
        if self.cache_hits or self.cache_misses or self.cache_bypassed:
            out.append(
                f"cache       {self.cache_hits} hits, {self.cache_misses} misses"
                + (f", {self.cache_bypassed} not cacheable under the cache policy" if self.cache_bypassed else "")
                + f": ${self.cache_saved_usd:.6f} saved"
            )
        if self.not_started:
            out.append(f"deadline    reached: {self.not_started} items not started; run the same command to continue")
        if self.failures:
            causes = ", ".join(f"{name}: {count}" for name, count in self.failures.most_common())
            out.append(f"failures    {causes}")
        return out
