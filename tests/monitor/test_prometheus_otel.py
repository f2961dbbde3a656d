"""Prometheus exposition (scraped over real HTTP) and OpenTelemetry GenAI spans."""

from __future__ import annotations

import httpx
import pytest

from inferopt.monitor import Metered, RequestRecord
from inferopt.monitor.prometheus import PrometheusSink
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest


def record(latency: float, error: str = "", cache: str = "miss") -> RequestRecord:
    return RequestRecord(
        request_id="x",
        timestamp=1.0,
        model_requested="gpt-4o-mini",
        model_served="gpt-4o-mini",
        latency_s=latency,
        ttft_s=latency / 2,
        input_tokens=10,
        output_tokens=5,
        cost_usd=0.01,
        error=error,
        cache=cache,
    )


def test_exposition_format_counters_and_cumulative_histogram() -> None:
    sink = PrometheusSink()
    sink.write([record(0.07), record(0.3), record(3.0, error="ServerError"), record(200.0, cache="exact")])
    text = sink.render()
    assert "# TYPE inferopt_requests_total counter" in text
    assert 'inferopt_requests_total{model="gpt-4o-mini",outcome="ServerError",cache="miss",route=""} 1' in text
    assert 'inferopt_tokens_total{model="gpt-4o-mini",kind="input"} 40' in text
    assert "# TYPE inferopt_request_latency_seconds histogram" in text
    assert 'inferopt_request_latency_seconds_bucket{model="gpt-4o-mini",le="0.1"} 1' in text
    assert 'inferopt_request_latency_seconds_bucket{model="gpt-4o-mini",le="0.5"} 2' in text
    assert 'inferopt_request_latency_seconds_bucket{model="gpt-4o-mini",le="120"} 3' in text
    assert 'inferopt_request_latency_seconds_bucket{model="gpt-4o-mini",le="+Inf"} 4' in text
    assert 'inferopt_request_latency_seconds_count{model="gpt-4o-mini"} 4' in text


async def test_metered_serves_metrics_over_http() -> None:
    sink = PrometheusSink()
    port = sink.serve("127.0.0.1", 0)
    metered = Metered(FunctionModel(lambda r: "ok"), [sink])
    for _ in range(3):
        await metered.complete(ChatRequest.of("hi", model="gpt-4o-mini"))
    metered.flush()
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    await metered.aclose()
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'inferopt_requests_total{model="gpt-4o-mini",outcome="ok",cache="none",route=""} 3' in response.text


def test_otel_spans_follow_genai_conventions() -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed: pip install 'inferopt[otel]'")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, StatusCode

    from inferopt.monitor.otel import OTelSink

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sink = OTelSink(provider)
    ok = record(0.5)
    ok.provider = "openai"
    sink.write([ok, record(1.5, error="RateLimitedError")])
    first, failed = exporter.get_finished_spans()
    assert first.name == "chat gpt-4o-mini" and first.kind == SpanKind.CLIENT
    attrs = dict(first.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini" and attrs["gen_ai.usage.input_tokens"] == 10
    assert first.end_time - first.start_time == 500_000_000
    assert (
        failed.status.status_code == StatusCode.ERROR
        and dict(failed.attributes or {})["error.type"] == "RateLimitedError"
    )


async def test_one_prometheus_url_is_one_set_of_metrics_across_stack_layers() -> None:
    import socket

    from inferopt.stack import build_stack

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"prometheus://127.0.0.1:{port}"
    # A client builds one stack per model: both layers must share the port and the counters.
    layers = [build_stack(FunctionModel(lambda r: "ok"), [{"metered": {"sink": url}}]) for _ in range(2)]
    for layer, model in zip(layers, ("gpt-4o-mini", "gpt-4o"), strict=True):
        await layer.complete(ChatRequest.of("hi", model=model))
        layer.flush()  # type: ignore[attr-defined]
        await layer.aclose()
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    assert 'inferopt_requests_total{model="gpt-4o-mini",outcome="ok",cache="none",route=""} 1' in text
    assert 'inferopt_requests_total{model="gpt-4o",outcome="ok",cache="none",route=""} 1' in text
