"""A Prometheus sink: counters and histograms in the text exposition format (version 0.0.4).

No client library is needed: the metrics are a few dicts under a lock, rendered on scrape.
Histogram buckets cover LLM calls, whose latencies span two orders of magnitude: a cached answer
in tens of milliseconds, a long generation in a minute or more.

``serve(host, port)`` answers ``GET /metrics`` from a daemon thread (point Prometheus at it), or
call ``render()`` and expose the text from your own web app.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from inferopt.monitor.records import RequestRecord

LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
TTFT_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Histogram:
    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)  # the last is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str, labels: Labels) -> list[str]:
        out, running = [], 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            bucket = f'le="{le}"'
            out.append(f"{name}_bucket{_labels(labels, bucket)} {running}")
        out.append(f"{name}_sum{_labels(labels)} {self.sum:.6g}")
        out.append(f"{name}_count{_labels(labels)} {self.count}")
        return out


_COUNTERS = {
    "inferopt_requests_total": "Requests recorded, by model, outcome (ok or error class), cache outcome and route.",
    "inferopt_tokens_total": "Tokens, by model and kind (input, output, cached input).",
    "inferopt_cost_usd_total": "USD paid to providers, by model.",
    "inferopt_saved_usd_total": "USD not paid thanks to answer-cache hits, by model.",
    "inferopt_retries_total": "Retried attempts, by model.",
}
_HISTOGRAMS = {
    "inferopt_request_latency_seconds": ("Request latency, by model.", LATENCY_BUCKETS_S),
    "inferopt_ttft_seconds": ("Time to first token, by model.", TTFT_BUCKETS_S),
}


class PrometheusSink:
    """Aggregates records into metrics; :meth:`render` gives the exposition text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = {name: {} for name in _COUNTERS}
        self._histograms: dict[str, dict[Labels, _Histogram]] = {name: {} for name in _HISTOGRAMS}
        self._server: ThreadingHTTPServer | None = None

    def _add(self, name: str, labels: Labels, amount: float) -> None:
        series = self._counters[name]
        series[labels] = series.get(labels, 0.0) + amount

    def _observe(self, name: str, labels: Labels, value: float) -> None:
        series = self._histograms[name]
        if labels not in series:
            series[labels] = _Histogram(_HISTOGRAMS[name][1])
        series[labels].observe(value)

    def write(self, records: Sequence[RequestRecord]) -> None:
        with self._lock:
            for r in records:
                model = (("model", r.model_served or r.model_requested),)
                outcome = (("outcome", r.error or "ok"), ("cache", r.cache or "none"), ("route", r.route))
                self._add("inferopt_requests_total", model + outcome, 1)
                for kind, count in (
                    ("input", r.input_tokens),
                    ("output", r.output_tokens),
                    ("cached", r.cached_tokens),
                ):
                    if count:
                        self._add("inferopt_tokens_total", (*model, ("kind", kind)), count)
                if r.cost_usd:
                    self._add("inferopt_cost_usd_total", model, r.cost_usd)
                if r.saved_usd:
                    self._add("inferopt_saved_usd_total", model, r.saved_usd)
                if r.retries:
                    self._add("inferopt_retries_total", model, r.retries)
                if r.latency_s is not None:
                    self._observe("inferopt_request_latency_seconds", model, r.latency_s)
                if r.ttft_s is not None and r.ok:
                    self._observe("inferopt_ttft_seconds", model, r.ttft_s)

    def render(self) -> str:
        """The metrics in Prometheus text exposition format."""
        lines: list[str] = []
        with self._lock:
            for name, help_text in _COUNTERS.items():
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
                lines += [f"{name}{_labels(k)} {v:.10g}" for k, v in sorted(self._counters[name].items())]
            for name, (help_text, _) in _HISTOGRAMS.items():
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
                for labels, histogram in sorted(self._histograms[name].items()):
                    lines += histogram.lines(name, labels)
        return "\n".join(lines) + "\n"

    def serve(self, host: str = "127.0.0.1", port: int = 9464) -> int:
        """Serve ``GET /metrics`` on a daemon thread; returns the port (pass 0 for any free one)."""
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404, "metrics are at /metrics")
                    return
                body = sink.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None  # scrapes every few seconds would flood the app's stderr

        self._server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self._server.serve_forever, name="inferopt-metrics", daemon=True).start()
        return int(self._server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Shared:
    """A process-wide sink handed to every ``Metered`` that names the same Prometheus URL.

    A config's stack is built once per model, so one URL means several ``Metered`` layers: they
    must feed one set of metrics (and one port can be bound once). Closing a layer leaves the
    shared sink running; it lives as long as the process, like any Prometheus registry.
    """

    def __init__(self, sink: PrometheusSink) -> None:
        self.sink = sink

    def write(self, records: Sequence[RequestRecord]) -> None:
        self.sink.write(records)

    def render(self) -> str:
        return self.sink.render()

    def close(self) -> None:
        return None


_SHARED: dict[str, _Shared] = {}
_SHARED_LOCK = threading.Lock()


def shared_sink(address: str = "") -> _Shared:
    """The process's metrics for ``address`` (``""``: in memory only; ``"HOST:PORT"``: also served)."""
    with _SHARED_LOCK:
        if address not in _SHARED:
            sink = PrometheusSink()
            if address:
                host, _, port = address.rpartition(":")
                sink.serve(host or "127.0.0.1", int(port))
            _SHARED[address] = _Shared(sink)
        return _SHARED[address]
