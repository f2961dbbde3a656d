"""Our Batch API clients (OpenAIBatch, AnthropicBatch, GeminiBatch) and BatchJobs against the emulator over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from inferopt.emulator import EmulatorServer
from inferopt.errors import InferoptError, ProviderConnectionError
from inferopt.parallel.batch_api import (
    AnthropicBatch,
    BatchAPI,
    BatchJobs,
    BatchLimits,
    GeminiBatch,
    JobStore,
    OpenAIBatch,
    estimate_batch_savings,
)
from inferopt.pricing import cost_of
from inferopt.providers.base import Provider
from inferopt.types import ChatRequest

DELAY_S = 600.0
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}


def api_for(server: EmulatorServer, wire: str, limits: BatchLimits | None = None) -> BatchAPI:
    if wire == "openai":
        provider = Provider("openai", server.openai_base_url, api_key="sk-client-test")
        return OpenAIBatch(provider, limits) if limits else OpenAIBatch(provider)
    if wire == "gemini":
        provider = Provider("gemini", server.url, api_key="gm-client-test")
        return GeminiBatch(provider, limits) if limits else GeminiBatch(provider)
    provider = Provider("anthropic", server.anthropic_base_url, api_key="sk-ant-client-test")
    return AnthropicBatch(provider, limits) if limits else AnthropicBatch(provider)


def items(n: int, wire: str) -> list[tuple[str, ChatRequest]]:
    return [(f"item-{i}", ChatRequest.of(f"Classify review {i}", model=MODELS[wire], max_tokens=20)) for i in range(n)]


@pytest.mark.parametrize("wire", ["openai", "anthropic", "gemini"])
async def test_a_job_split_over_small_limits_returns_every_item_in_order_at_half_price(
    server: EmulatorServer, clock: Any, wire: str
) -> None:
    api = api_for(server, wire, BatchLimits(max_requests=4, max_bytes=100_000))
    jobs = BatchJobs(api, provider_name=wire)
    try:
        job = await jobs.submit(items(10, wire))
        assert [len(b.custom_ids) for b in job.batches] == [4, 4, 2]
        assert (await jobs.status(job)).state == "in_progress"
        with pytest.raises(InferoptError, match="has not finished"):
            await jobs.results(job)
        clock.advance(DELAY_S)
        status = await jobs.status(job)
        assert status.finished and status.total == 10 and status.succeeded + status.failed == 10
        results = await jobs.results(job)
    finally:
        await api.aclose()
    assert [r.custom_id for r in results] == [f"item-{i}" for i in range(10)]
    answered = [r.response for r in results if r.response is not None]
    errored = [r for r in results if r.error is not None]
    assert len(answered) == status.succeeded and 1 <= len(errored) <= 6
    assert all(r.error.kind == "errored" and r.error.message for r in errored if r.error)
    for response in answered:
        assert response.content and response.usage.input_tokens > 0 and response.usage.output_tokens <= 20
        assert response.emulated and response.annotations["batch"] is True
        realtime = cost_of(response.usage, MODELS[wire])
        assert response.cost_usd == pytest.approx(realtime / 2)


async def test_a_job_is_split_by_bytes_too(server: EmulatorServer, clock: Any) -> None:
    # Each input line is about 180 bytes: two fit in 400 bytes, three do not.
    api = api_for(server, "openai", BatchLimits(max_requests=1000, max_bytes=400))
    jobs = BatchJobs(api, provider_name="openai")
    try:
        job = await jobs.submit(items(6, "openai"))
        clock.advance(DELAY_S)
        results = await jobs.results(job)
    finally:
        await api.aclose()
    assert [len(b.custom_ids) for b in job.batches] == [2, 2, 2]
    assert [r.custom_id for r in results] == [f"item-{i}" for i in range(6)]


@pytest.mark.parametrize("wire", ["openai", "anthropic", "gemini"])
async def test_cancel_returns_what_finished_and_marks_the_rest_canceled(
    server: EmulatorServer, clock: Any, wire: str
) -> None:
    api = api_for(server, wire)
    jobs = BatchJobs(api, provider_name=wire)
    try:
        job = await jobs.submit(items(12, wire))
        clock.advance(DELAY_S / 2)
        await jobs.cancel(job)
        assert (await jobs.status(job)).finished
        results = await jobs.results(job)
    finally:
        await api.aclose()
    kinds = {r.error.kind for r in results if r.error is not None}
    assert "canceled" in kinds and any(r.ok for r in results) and len(results) == 12


async def test_a_provider_batch_that_fails_reports_each_of_its_items(
    make_server: Callable[..., EmulatorServer], small_limits: Any
) -> None:
    # The client's limits are looser than the server's, so the provider rejects the file.
    api = api_for(make_server(batch_limits=small_limits), "openai", BatchLimits(max_requests=10, max_bytes=1_900))
    jobs = BatchJobs(api, provider_name="openai")
    try:
        job = await jobs.submit(items(8, "openai"))
        status = await jobs.status(job)
        results = await jobs.results(job)
    finally:
        await api.aclose()
    assert status.state == "failed" and "too_many_tasks" in status.batches[0].detail
    assert {r.error.kind for r in results if r.error} == {"failed"} and len(results) == 8


async def test_bad_jobs_are_refused_before_anything_is_sent(server: EmulatorServer) -> None:
    api = api_for(server, "anthropic")
    jobs = BatchJobs(api, provider_name="anthropic")
    try:
        with pytest.raises(InferoptError, match="more than once"):
            await jobs.submit(items(2, "anthropic") + items(1, "anthropic"))
        with pytest.raises(InferoptError, match="not allowed by Anthropic"):
            await jobs.submit([("has space", items(1, "anthropic")[0][1])])
        with pytest.raises(InferoptError, match="over the provider's batch limit"):
            await BatchJobs(api_for(server, "openai", BatchLimits(5, 100)), provider_name="o").submit(
                items(1, "openai")
            )
    finally:
        await api.aclose()
    assert server.stats.by_route["/v1/messages/batches"] == 0


def test_job_records_survive_a_round_trip_through_the_store(tmp_path: Any) -> None:
    from inferopt.parallel.batch_api import BatchJob, ProviderBatch

    store = JobStore(tmp_path / "jobs")
    job = BatchJob("job_0123456789ab", "openai", "openai", "gpt-4o-mini", 1.5, [ProviderBatch("b1", ["x", "y"])])
    store.save(job)
    assert store.load(job.id) == job and store.job_ids() == [job.id]
    with pytest.raises(InferoptError, match="no batch job"):
        store.load("job_missing")
    with pytest.raises(InferoptError, match="not a job id"):
        store.load("../etc")


def test_estimated_savings_are_half_for_models_with_batch_prices() -> None:
    requests = [ChatRequest.of(f"Summarise document {i} " * 20, model="gpt-4o-mini", max_tokens=100) for i in range(50)]
    realtime, batch = estimate_batch_savings(requests, "gpt-4o-mini")
    assert realtime > 0 and batch == pytest.approx(realtime / 2)
    longer = estimate_batch_savings([r for r in requests], "gpt-4o-mini", output_tokens=10_000)
    assert longer.realtime_usd == pytest.approx(realtime)  # max_tokens set: output_tokens is not used
    assert estimate_batch_savings(requests, "claude-haiku-4-5").saved_fraction == pytest.approx(0.5)


def test_results_are_never_fetched_from_another_host_with_our_key() -> None:
    api = AnthropicBatch(Provider("anthropic", "http://127.0.0.1:8100", api_key="sk-ant-secret"))
    own = "http://127.0.0.1:8100/v1/messages/batches/msgbatch_1/results"
    assert api._results_url("msgbatch_1", own) == own
    assert api._results_url("msgbatch_1", "https://evil.example/x") == "/v1/messages/batches/msgbatch_1/results"


async def test_an_unreachable_provider_is_a_connection_error_naming_the_url() -> None:
    api = OpenAIBatch(Provider("nowhere", "http://127.0.0.1:9/v1", api_key="sk-unreachable-key"))
    try:
        with pytest.raises(ProviderConnectionError, match=r"127\.0\.0\.1:9/v1 reachable") as raised:
            await BatchJobs(api, provider_name="nowhere").submit(items(1, "openai"))
    finally:
        await api.aclose()
    assert "sk-unreachable-key" not in str(raised.value)


async def test_a_gemini_batch_made_from_a_file_is_read_from_its_responses_file(
    make_server: Callable[..., EmulatorServer], clock: Any
) -> None:
    # A batch someone created with the SDK from an uploaded file: our client reads its responsesFile.
    import io

    server = make_server()  # no batch errors

    genai = pytest.importorskip("google.genai")
    client = genai.Client(api_key="gm-client-test", http_options={"base_url": server.url, "api_version": "v1beta"})
    lines = b"".join(
        b'{"key":"k%d","request":{"contents":[{"parts":[{"text":"row %d"}]}]}}\n' % (i, i) for i in range(3)
    )
    uploaded = client.files.upload(file=io.BytesIO(lines), config={"mime_type": "application/jsonl"})
    made = client.batches.create(model="gemini-2.5-flash", src=uploaded.name)
    clock.advance(DELAY_S)
    api = api_for(server, "gemini")
    try:
        results = await api.results(made.name)
    finally:
        await api.aclose()
    assert [r.custom_id for r in results] == ["k0", "k1", "k2"]
    for r in results:
        assert r.response is not None and r.response.emulated and r.response.content
        assert r.response.cost_usd == pytest.approx(cost_of(r.response.usage, "gemini-2.5-flash") / 2)
