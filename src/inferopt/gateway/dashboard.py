"""``GET /dashboard``: one static HTML page (no build step) that polls ``GET /dashboard/data``.

The page shows requests/s, latency p50/p95, cost, cache hit rate and per-model traffic over the
last ten seconds, refreshed every second; the numbers come from
:meth:`inferopt.gateway.metrics.GatewayMetrics.snapshot`.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

DASHBOARD_HTML_TYPE = (b"content-type", b"text/html; charset=utf-8")


@lru_cache(maxsize=1)
def dashboard_html() -> bytes:
    """The page, read once from the package."""
    return resources.files("inferopt.gateway").joinpath("dashboard.html").read_bytes()
