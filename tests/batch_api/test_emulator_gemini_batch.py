"""Gemini Batch mode on the emulator, driven by the ``google-genai`` SDK unchanged over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferopt.emulator import EmulatorServer

genai = pytest.importorskip("google.genai", reason="google-genai not installed (pip install -e '.[dev]')")
types = pytest.importorskip("google.genai.types")

DELAY_S = 600.0


@pytest.fixture
def server(make_server: Callable[..., EmulatorServer]) -> EmulatorServer:
    return make_server()


def sdk(server: EmulatorServer, key: str = "gm-batch-key", version: str = "v1beta") -> Any:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=server.url, api_version=version))


def inline(n: int) -> list[dict[str, Any]]:
    return [
        {"contents": [{"parts": [{"text": f"question {i}"}], "role": "user"}], "metadata": {"key": f"q{i}"}}
        for i in range(n)
    ]


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_inline_batch_runs_through_the_sdk_states_and_answers_in_input_order(
    server: EmulatorServer, clock: Any, version: str
) -> None:
    client = sdk(server, version=version)
    job = client.batches.create(model="gemini-2.5-flash", src=inline(3), config={"display_name": "inline-job"})
    assert job.name.startswith("batches/") and job.display_name == "inline-job"
    assert job.state == types.JobState.JOB_STATE_PENDING
    clock.advance(DELAY_S / 2)
    assert client.batches.get(name=job.name).state == types.JobState.JOB_STATE_RUNNING
    clock.advance(DELAY_S)
    done = client.batches.get(name=job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED and done.done
    answers = done.dest.inlined_responses
    assert [a.metadata["key"] for a in answers] == ["q0", "q1", "q2"]
    assert all(a.response.text and a.response.usage_metadata.prompt_token_count > 0 for a in answers)
    assert server.app is not None and server.app.batches.billing.gemini_batches == 1
    assert server.app.batches.billing.gemini_requests == 3
    assert job.name in [b.name for b in client.batches.list()]


def test_file_batch_uploads_with_the_files_api_and_writes_a_responses_file(
    server: EmulatorServer, clock: Any, tmp_path: Path
) -> None:
    client = sdk(server)
    lines = [{"key": f"k{i}", "request": {"contents": [{"parts": [{"text": f"row {i}"}]}]}} for i in range(4)]
    source = tmp_path / "requests.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    uploaded = client.files.upload(file=source, config={"display_name": "rows", "mime_type": "jsonl"})
    assert uploaded.name.startswith("files/") and uploaded.size_bytes == source.stat().st_size
    job = client.batches.create(model="gemini-2.5-flash", src=uploaded.name, config={"display_name": "file-job"})
    clock.advance(DELAY_S)
    done = client.batches.get(name=job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED and done.dest.file_name
    out = [json.loads(x) for x in client.files.download(file=done.dest.file_name).decode().splitlines()]
    assert [line["key"] for line in out] == ["k0", "k1", "k2", "k3"]
    assert all(line["response"]["candidates"][0]["content"]["parts"][0]["text"] for line in out)
    assert server.app is not None and server.app.batches.billing.files_uploaded == 1


def test_cancel_then_delete_and_tenants_are_apart(server: EmulatorServer, clock: Any) -> None:
    client, other = sdk(server), sdk(server, key="gm-other-key")
    job = client.batches.create(model="gemini-2.5-flash", src=inline(4), config={"display_name": "to-cancel"})
    clock.advance(DELAY_S / 2)  # half of the lines are done
    with pytest.raises(genai.errors.ClientError) as hidden:
        other.batches.get(name=job.name)
    assert hidden.value.code == 404
    client.batches.cancel(name=job.name)
    cancelled = client.batches.get(name=job.name)
    assert cancelled.state == types.JobState.JOB_STATE_CANCELLED
    codes = [a.error.code if a.error else 200 for a in cancelled.dest.inlined_responses]
    assert codes == [200, 200, 499, 499]  # google.rpc CANCELLED for the lines the cancel kept from running
    client.batches.delete(name=job.name)
    with pytest.raises(genai.errors.ClientError):
        client.batches.get(name=job.name)


def test_errors_are_googles_envelope(server: EmulatorServer) -> None:
    url = f"{server.url}/v1beta/models/gemini-nope:batchGenerateContent"
    body = {"batch": {"displayName": "x", "inputConfig": {"requests": {"requests": [{"request": {}}]}}}}
    unknown = httpx.post(url, json=body, headers={"x-goog-api-key": "k"})
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"
    assert httpx.post(url, json=body).status_code == 401
    good = url.replace("gemini-nope", "gemini-2.5-flash")
    empty = httpx.post(
        good, json={"batch": {"inputConfig": {"requests": {"requests": []}}}}, headers={"x-goog-api-key": "k"}
    )
    assert empty.status_code == 400 and empty.json()["error"]["status"] == "INVALID_ARGUMENT"


async def test_batch_requests_may_name_a_context_cache_and_report_its_tokens(
    server: EmulatorServer, clock: Any
) -> None:
    from inferopt.parallel.batch_api import GeminiBatch
    from inferopt.pricing import cost_of
    from inferopt.providers.base import Provider

    client = sdk(server)
    handbook = " ".join(f"rule {i}: keep the modules small." for i in range(300))
    cache = client.caches.create(
        model="gemini-2.5-flash", config=types.CreateCachedContentConfig(contents=[handbook], ttl="3600s")
    )
    requests = [
        {"contents": [{"parts": [{"text": "Rule 4?"}], "role": "user"}], "config": {"cached_content": cache.name}},
        {
            "contents": [{"parts": [{"text": "Rule 5?"}], "role": "user"}],
            "config": {"cached_content": "cachedContents/nope"},
        },
    ]
    job = client.batches.create(model="gemini-2.5-flash", src=requests)
    clock.advance(DELAY_S)
    api = GeminiBatch(Provider("gemini", server.url, api_key="gm-batch-key"))
    try:
        cached, missing = await api.results(job.name)
    finally:
        await api.aclose()
    assert cached.response is not None and missing.error is not None and missing.error.status == 403
    assert (cached.custom_id, missing.custom_id) == ("0", "1")  # no metadata key: their positions
    usage = cached.response.usage
    assert usage.cache_read_tokens == cache.usage_metadata.total_token_count < usage.input_tokens
    # Priced by the catalog's batch rule for the model (gemini-2.5-flash: cache reads as batch input).
    assert cached.response.cost_usd == pytest.approx(cost_of(usage, "gemini-2.5-flash", batch=True))
    assert cached.response.cost_usd < cost_of(replace(usage, cache_read_tokens=0), "gemini-2.5-flash")
