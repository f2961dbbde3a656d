"""What the gateway served: Prometheus counters at ``/metrics`` and a rolling window for the dashboard.

Recording a request is a handful of dict updates (no locks: one event loop writes). The Prometheus
text format (version 0.0.4) is written here directly, so no extra dependency is needed. Each worker
process counts its own requests; with ``--workers N`` the worker answering ``/metrics`` adds the
others' published counters (``metrics_share.py``), so every scrape sees the whole server. The
dashboard shows the worker that answered the page.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
WINDOW_S = 60


@dataclass(slots=True)
class _Second:
    """Everything recorded during one wall-clock second (for the dashboard's rolling window)."""

    at: int
    requests: int = 0
    errors: int = 0
    cost_usd: float = 0.0
    cache_hits: int = 0
    cache_lookups: int = 0
    latencies: list[float] = field(default_factory=list)
    models: Counter[str] = field(default_factory=Counter)


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class GatewayMetrics:
    """Counters since start plus the last minute, second by second. ``clock`` is wall time in seconds."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.started_at = clock()
        self.requests: Counter[tuple[str, str, int]] = Counter()  # (route, model, status)
        self.cost_usd: dict[str, float] = {}
        self.tokens: Counter[tuple[str, str]] = Counter()  # (model, input|output|cache_read)
        self.cache: Counter[str] = Counter()  # hit | miss
        self.streams_cancelled = 0
        self.streams_failed = 0
        self.streams_rescued = 0
        self.limiter_local = 0  # answers limited in this process only: the shared limiter's Redis was down
        self.in_flight = 0
        self._latency_counts: dict[str, list[int]] = {}
        self._latency_sum: dict[str, float] = {}
        self._seconds: deque[_Second] = deque(maxlen=WINDOW_S + 1)

    def _second(self, now: float) -> _Second:
        at = int(now)
        if not self._seconds or self._seconds[-1].at != at:
            self._seconds.append(_Second(at))
        return self._seconds[-1]

    def record(
        self,
        route: str,
        model: str,
        status: int,
        latency_s: float,
        *,
        cost_usd: float | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache: str | None = None,
        limiter_local: bool = False,
    ) -> None:
        """Count one finished request (``cache`` is ``"hit"``, ``"miss"`` or None when no cache looked)."""
        self.requests[(route, model, status)] += 1
        self.limiter_local += limiter_local
        counts = self._latency_counts.get(route)
        if counts is None:
            counts = self._latency_counts[route] = [0] * (len(LATENCY_BUCKETS_S) + 1)
        counts[bisect.bisect_left(LATENCY_BUCKETS_S, latency_s)] += 1
        self._latency_sum[route] = self._latency_sum.get(route, 0.0) + latency_s
        if cost_usd:
            self.cost_usd[model] = self.cost_usd.get(model, 0.0) + cost_usd
        if input_tokens or output_tokens:
            self.tokens[(model, "input")] += input_tokens
            self.tokens[(model, "output")] += output_tokens
            self.tokens[(model, "cache_read")] += cache_read_tokens
        if cache is not None:
            self.cache[cache] += 1
        second = self._second(self._clock())
        second.requests += 1
        second.errors += status >= 400
        second.cost_usd += cost_usd or 0.0
        second.latencies.append(latency_s)
        second.models[model] += 1
        if cache is not None:
            second.cache_lookups += 1
            second.cache_hits += cache == "hit"

    def snapshot(self, window_s: int = 10) -> dict[str, Any]:
        """The dashboard's numbers: the last ``window_s`` complete seconds, plus totals."""
        now = int(self._clock())
        recent = [s for s in self._seconds if now - window_s <= s.at < now]
        latencies = sorted(x for s in recent for x in s.latencies)
        lookups = sum(s.cache_lookups for s in recent)
        models: Counter[str] = Counter()
        for s in recent:
            models.update(s.models)
        p50, p95 = _percentile(latencies, 0.5), _percentile(latencies, 0.95)
        return {
            "window_s": window_s,
            "requests_per_s": sum(s.requests for s in recent) / window_s,
            "errors_per_s": sum(s.errors for s in recent) / window_s,
            "latency_p50_ms": None if p50 is None else p50 * 1000,
            "latency_p95_ms": None if p95 is None else p95 * 1000,
            "cost_usd_window": sum(s.cost_usd for s in recent),
            "cache_hit_rate": (sum(s.cache_hits for s in recent) / lookups) if lookups else None,
            "models_per_s": {m: c / window_s for m, c in models.most_common()},
            "totals": {
                "requests": sum(self.requests.values()),
                "cost_usd": sum(self.cost_usd.values()),
                "cache_hits": self.cache["hit"],
                "cache_misses": self.cache["miss"],
                "in_flight": self.in_flight,
                "uptime_s": self._clock() - self.started_at,
            },
        }

    def counters(self) -> dict[str, Any]:
        """Every counter as plain JSON: what a worker publishes for the others' combined ``/metrics``."""
        return {
            "requests": [[route, model, status, n] for (route, model, status), n in self.requests.items()],
            "latency_counts": self._latency_counts,
            "latency_sum": self._latency_sum,
            "cost_usd": self.cost_usd,
            "tokens": [[model, kind, n] for (model, kind), n in self.tokens.items()],
            "cache": dict(self.cache),
            "streams_cancelled": self.streams_cancelled,
            "streams_failed": self.streams_failed,
            "streams_rescued": self.streams_rescued,
            "limiter_local": self.limiter_local,
            "in_flight": self.in_flight,
        }

    def add(self, counters: dict[str, Any]) -> None:
        """Add another worker's :meth:`counters` to these."""
        for route, model, status, n in counters["requests"]:
            self.requests[(route, model, status)] += n
        for route, counts in counters["latency_counts"].items():
            mine = self._latency_counts.setdefault(route, [0] * (len(LATENCY_BUCKETS_S) + 1))
            self._latency_counts[route] = [a + b for a, b in zip(mine, counts, strict=True)]
            self._latency_sum[route] = self._latency_sum.get(route, 0.0) + counters["latency_sum"][route]
        for model, usd in counters["cost_usd"].items():
            self.cost_usd[model] = self.cost_usd.get(model, 0.0) + usd
        for model, kind, n in counters["tokens"]:
            self.tokens[(model, kind)] += n
        self.cache.update(counters["cache"])
        self.streams_cancelled += counters["streams_cancelled"]
        self.streams_failed += counters["streams_failed"]
        self.streams_rescued += counters.get("streams_rescued", 0)
        self.limiter_local += counters.get("limiter_local", 0)
        self.in_flight += counters["in_flight"]

    def prometheus_text(self, others: Sequence[dict[str, Any]] = ()) -> str:
        """Every counter in the Prometheus text exposition format, plus ``others``' (other workers)."""
        if others:
            total = GatewayMetrics(self._clock)
            for counters in (self.counters(), *others):
                total.add(counters)
            return total.prometheus_text()
        lines = [
            "# HELP inferopt_gateway_requests_total Requests answered, by route, model and HTTP status.",
            "# TYPE inferopt_gateway_requests_total counter",
        ]
        for (route, model, status), count in sorted(self.requests.items()):
            lines.append(
                f'inferopt_gateway_requests_total{{route="{_escape(route)}",model="{_escape(model)}",'
                f'status="{status}"}} {count}'
            )
        lines += [
            "# HELP inferopt_gateway_request_seconds Time from request to last byte, by route.",
            "# TYPE inferopt_gateway_request_seconds histogram",
        ]
        for route, counts in sorted(self._latency_counts.items()):
            label = _escape(route)
            cumulative = 0
            for bound, count in zip((*LATENCY_BUCKETS_S, float("inf")), counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f'inferopt_gateway_request_seconds_bucket{{route="{label}",le="{le}"}} {cumulative}')
            lines.append(f'inferopt_gateway_request_seconds_sum{{route="{label}"}} {self._latency_sum[route]!r}')
            lines.append(f'inferopt_gateway_request_seconds_count{{route="{label}"}} {cumulative}')
        lines += [
            "# HELP inferopt_gateway_cost_usd_total Dollars spent upstream, by model.",
            "# TYPE inferopt_gateway_cost_usd_total counter",
            *(
                f'inferopt_gateway_cost_usd_total{{model="{_escape(m)}"}} {v!r}'
                for m, v in sorted(self.cost_usd.items())
            ),
            "# HELP inferopt_gateway_tokens_total Tokens, by model and kind (cache_read is part of input).",
            "# TYPE inferopt_gateway_tokens_total counter",
            *(
                f'inferopt_gateway_tokens_total{{model="{_escape(m)}",kind="{k}"}} {v}'
                for (m, k), v in sorted(self.tokens.items())
            ),
            "# HELP inferopt_gateway_cache_total Answer-cache lookups, by result.",
            "# TYPE inferopt_gateway_cache_total counter",
            *(f'inferopt_gateway_cache_total{{result="{r}"}} {v}' for r, v in sorted(self.cache.items())),
            "# HELP inferopt_gateway_streams_cancelled_total Streams whose client hung up (upstream cancelled).",
            "# TYPE inferopt_gateway_streams_cancelled_total counter",
            f"inferopt_gateway_streams_cancelled_total {self.streams_cancelled}",
            "# HELP inferopt_gateway_streams_failed_total Streams the upstream broke after they started.",
            "# TYPE inferopt_gateway_streams_failed_total counter",
            f"inferopt_gateway_streams_failed_total {self.streams_failed}",
            "# HELP inferopt_gateway_streams_rescued_total Streams cut or stalled upstream, then continued.",
            "# TYPE inferopt_gateway_streams_rescued_total counter",
            f"inferopt_gateway_streams_rescued_total {self.streams_rescued}",
            "# HELP inferopt_gateway_limiter_local_total Answers limited in this process only: the shared "
            "rate limiter's Redis was down (fail-open).",
            "# TYPE inferopt_gateway_limiter_local_total counter",
            f"inferopt_gateway_limiter_local_total {self.limiter_local}",
            "# HELP inferopt_gateway_in_flight Requests being answered now.",
            "# TYPE inferopt_gateway_in_flight gauge",
            f"inferopt_gateway_in_flight {self.in_flight}",
        ]
        return "\n".join(lines) + "\n"
