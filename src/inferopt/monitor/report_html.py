"""A self-contained HTML report: the summary, per-group tables, comparisons and plots.

Plots (latency histogram, cost over time, cache hit rate over time) are PNGs embedded as data
URIs, so the report is one file to attach to a CI run or mail. Without matplotlib the report has
the tables and a line saying how to get the plots.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from inferopt.errors import ConfigError
from inferopt.monitor.records import RequestRecord
from inferopt.monitor.regression import Comparison
from inferopt.monitor.summary import Summary

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}.bad{color:#b00;font-weight:bold}.good{color:#070}
img{max-width:100%;border:1px solid #eee}"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return html.escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


SUMMARY_ROWS = (
    ("requests", "requests"),
    ("error rate", "error_rate"),
    ("latency p50 / p95 / p99 (s)", ("latency_p50_s", "latency_p95_s", "latency_p99_s")),
    ("TTFT p50 / p95 / p99 (s)", ("ttft_p50_s", "ttft_p95_s", "ttft_p99_s")),
    ("throughput (req/s)", "throughput_rps"),
    ("total cost (USD)", "total_cost_usd"),
    ("cost per 1k requests (USD)", "cost_per_1k_usd"),
    ("cache hit rate", "cache_hit_rate"),
    ("saved by cache (USD)", "saved_usd"),
)


def summary_rows(summary: Summary) -> list[tuple[str, str]]:
    data = summary.to_dict()
    rows = []
    for label, key in SUMMARY_ROWS:
        keys = key if isinstance(key, tuple) else (key,)
        rows.append((label, " / ".join(_fmt(math.nan if data[k] is None else data[k]) for k in keys)))
    return rows


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _plots(records: Sequence[RequestRecord]) -> list[tuple[str, str]]:
    from inferopt.tradeoff.plots import pyplot

    plt = pyplot()
    out = []
    latencies = [r.latency_s for r in records if r.ok and r.latency_s is not None]
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.hist(latencies, bins=40, color="tab:blue")
    axis.set_xlabel("latency (s)")
    axis.set_ylabel("requests")
    out.append(("Latency histogram", _png(figure)))
    plt.close(figure)
    ordered = sorted(records, key=lambda r: r.timestamp)
    if ordered:
        start = ordered[0].timestamp
        times = [(r.timestamp - start) / 60 for r in ordered]
        running, cumulative = 0.0, []
        for r in ordered:
            running += r.cost_usd or 0.0
            cumulative.append(running)
        figure, axis = plt.subplots(figsize=(7, 3.5))
        axis.plot(times, cumulative, color="tab:green")
        axis.set_xlabel("minutes since first request")
        axis.set_ylabel("cumulative cost (USD)")
        out.append(("Cost over time", _png(figure)))
        plt.close(figure)
        through_cache = [(t, r.cache_hit) for t, r in zip(times, ordered, strict=True) if r.cache_eligible]
        if through_cache:
            window = max(1, len(through_cache) // 20)  # a rolling rate over about 5% of the requests
            rates = [
                sum(hit for _, hit in through_cache[max(0, i - window + 1) : i + 1]) / min(window, i + 1)
                for i in range(len(through_cache))
            ]
            figure, axis = plt.subplots(figsize=(7, 3.5))
            axis.plot([t for t, _ in through_cache], rates, color="tab:orange")
            axis.set_ylim(0, 1)
            axis.set_xlabel("minutes since first request")
            axis.set_ylabel(f"cache hit rate (rolling {window})")
            out.append(("Cache hit rate over time", _png(figure)))
            plt.close(figure)
    return out


def render_html(
    records: Sequence[RequestRecord],
    summary: Summary,
    groups: Mapping[str, Summary] | None = None,
    by: str = "",
    comparisons: Sequence[Comparison] = (),
    title: str = "inferopt report",
) -> str:
    """The report as one HTML document."""
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_STYLE}</style>"]
    parts.append(f"<h1>{html.escape(title)}</h1>")
    parts.append(_table(["metric", "value"], summary_rows(summary)))
    if groups:
        headers = [by, "requests", "error rate", "p50 (s)", "p95 (s)", "cost/1k (USD)", "hit rate", "saved (USD)"]
        rows: list[Sequence[Any]] = [
            (
                name,
                s.requests,
                s.error_rate,
                s.latency_p50_s,
                s.latency_p95_s,
                s.cost_per_1k_usd,
                s.cache_hit_rate,
                s.saved_usd,
            )
            for name, s in groups.items()
        ]
        parts.append(f"<h2>By {html.escape(by)}</h2>" + _table(headers, rows))
    if comparisons:
        headers = ["metric", "baseline", "current", "change", "95% CI low", "95% CI high", "verdict"]
        rows = [(c.metric, c.baseline, c.current, c.change, c.ci_low, c.ci_high, c.verdict) for c in comparisons]
        classes = ["bad" if c.regressed else ("good" if c.improved else "") for c in comparisons]
        parts.append("<h2>Against the baseline</h2>" + _table(headers, rows, classes))
    try:
        for name, uri in _plots(records):
            parts.append(f"<h2>{html.escape(name)}</h2><img alt='{html.escape(name)}' src='{uri}'>")
    except ConfigError as exc:
        parts.append(f"<p>No plots: {html.escape(str(exc))}</p>")
    return "\n".join(parts)


def render_experiment_html(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    front_png: bytes | None,
    chosen: str | None,
    reasons: Sequence[str],
) -> str:
    """An experiment's results as one HTML document: the table, the choice and its reasons, the front."""
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_STYLE}</style>"]
    parts.append(f"<h1>{html.escape(title)}</h1>" + _table(headers, rows))
    if chosen:
        items = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
        parts.append(f"<h2>Choice: {html.escape(chosen)}</h2><ul>{items}</ul>")
    if front_png:
        uri = "data:image/png;base64," + base64.b64encode(front_png).decode()
        parts.append(f"<h2>Trade-off (faded: dominated; ringed: chosen)</h2><img alt='Pareto front' src='{uri}'>")
    return "\n".join(parts)
