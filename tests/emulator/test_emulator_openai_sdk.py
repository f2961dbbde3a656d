"""The official ``openai`` SDK, unchanged, against the emulator."""

from __future__ import annotations

from typing import Any

import httpx
import openai

from inferopt.emulator import EmulatorServer
from inferopt.tokens import count_tokens

MESSAGES: Any = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name three rivers."}]


def test_plain_completion_has_content_usage_and_emulated_marking(server: EmulatorServer) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0) as client:
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
        completion = raw.parse()
    assert raw.headers["x-inferopt-emulated"] == "true"
    assert raw.headers["x-request-id"].startswith("req_emu_")
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-emu-")
    assert completion.system_fingerprint == "inferopt-emulator"
    assert completion.model == "gpt-4o"
    text = completion.choices[0].message.content
    assert text and completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert usage.completion_tokens == count_tokens(text, "gpt-4o")
    assert usage.prompt_tokens > count_tokens("Be brief. Name three rivers.", "gpt-4o")
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None


def test_stream_with_include_usage_ends_with_usage_chunk(server: EmulatorServer) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0) as client:
        plain = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
        )
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content  # streaming never changes the answer
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and plain.usage is not None
    assert last.usage.completion_tokens == plain.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_include_usage_has_no_usage(server: EmulatorServer) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0) as client:
        chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


async def test_async_client_plain_and_stream(server: EmulatorServer) -> None:
    async with openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0) as client:
        completion = await client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
        stream = await client.chat.completions.create(
            model="gpt-4.1-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        pieces = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(pieces) == completion.choices[0].message.content


def test_max_tokens_caps_the_answer_with_finish_length(server: EmulatorServer) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_completion_tokens=5)
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 5


def test_stop_sequence_cuts_the_answer(server: EmulatorServer) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0) as client:
        full = client.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message.content or ""
        stop = full.split()[3]
        cut = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stop=[stop])
    assert cut.choices[0].message.content == full[: full.index(stop)]
    assert cut.choices[0].finish_reason == "stop"


def test_models_list_and_health(server: EmulatorServer) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0) as client:
        ids = [m.id for m in client.models.list()]
    assert "gpt-4o" in ids and "mistralai/mixtral-8x7b-chat" in ids and "claude-haiku-4-5" not in ids
    health = httpx.get(server.url + "/health")
    assert health.json() == {"status": "ok", "emulated": True}
    assert health.headers["x-inferopt-emulated"] == "true"


def test_stats_count_requests_per_route_and_model(server: EmulatorServer) -> None:
    before = server.stats.by_model["gpt-4.1-nano"]
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0) as client:
        client.chat.completions.create(model="gpt-4.1-nano", messages=MESSAGES)
    snapshot = httpx.get(server.url + "/emulator/stats").json()
    assert snapshot["by_model"]["gpt-4.1-nano"] == before + 1
    assert snapshot["by_route"]["/v1/chat/completions"] >= 1
    assert server.stats.by_model["gpt-4.1-nano"] == before + 1
