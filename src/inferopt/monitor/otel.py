"""An OpenTelemetry sink: one span per request, following the GenAI semantic conventions.

Needs ``pip install 'inferopt[otel]'``. Spans are named ``chat {model}`` with kind CLIENT and carry
``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.response.id``, ``gen_ai.usage.input_tokens`` /
``output_tokens`` and ``error.type`` on failure; inferopt's own facts (cost, cache outcome, route,
retries, TTFT) go under ``inferopt.*``. Spans are emitted from the record writer thread with the
request's real start and end times, so they cost the request path nothing; the price is that they
are not children of the caller's active span (use an OTel-instrumented HTTP client for that).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inferopt.errors import ConfigError
from inferopt.monitor.records import RequestRecord

_NS = 1_000_000_000


def _trace() -> Any:
    try:
        from opentelemetry import trace
    except ImportError:
        raise ConfigError("the otel sink needs OpenTelemetry: pip install 'inferopt[otel]'") from None
    return trace


def span_attributes(record: RequestRecord) -> dict[str, Any]:
    """The span attributes of one record (GenAI semantic conventions plus ``inferopt.*``)."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": record.model_requested,
        "gen_ai.usage.input_tokens": record.input_tokens,
        "gen_ai.usage.output_tokens": record.output_tokens,
        "inferopt.request_id": record.request_id,
        "inferopt.retries": record.retries,
        "inferopt.streamed": record.streamed,
    }
    optional = {
        "gen_ai.provider.name": record.provider,
        "gen_ai.response.model": record.model_served,
        "error.type": record.error,
        "inferopt.cache": record.cache,
        "inferopt.route": record.route,
        "inferopt.tenant": record.tenant,
        "inferopt.key_id": record.key_id,
        "inferopt.cost_usd": record.cost_usd,
        "inferopt.saved_usd": record.saved_usd or None,
        "inferopt.ttft_s": record.ttft_s,
        "gen_ai.usage.cache_read.input_tokens": record.cached_tokens or None,
    }
    attributes.update({k: v for k, v in optional.items() if v not in (None, "")})
    return attributes


class OTelSink:
    """Emits a span per record through ``tracer_provider`` (default: the global one)."""

    def __init__(self, tracer_provider: Any = None) -> None:
        trace = _trace()
        self._trace = trace
        self._tracer = trace.get_tracer("inferopt", tracer_provider=tracer_provider)

    def write(self, records: Sequence[RequestRecord]) -> None:
        for record in records:
            start = int(record.timestamp * _NS)
            end = start + int((record.latency_s or 0.0) * _NS)
            span = self._tracer.start_span(
                f"chat {record.model_requested}",
                kind=self._trace.SpanKind.CLIENT,
                start_time=start,
                attributes=span_attributes(record),
            )
            if record.error:
                span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, record.error))
            span.end(end_time=end)

    def close(self) -> None:
        return None
