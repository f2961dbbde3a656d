"""Upstream faults behind the gateway, as a user of the official SDKs notices them.

Two providers point at one emulator; each sends its own ``x-emulator-fault`` script, so the primary
fails as a test says and the backup answers. Each test counts the emulator's requests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.testing import wait_for

KEY_ENV = "INFEROPT_TEST_UPSTREAM_KEY"  # set by the package's conftest
USER: Any = [{"role": "user", "content": "Tell me about the sea."}]


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=1, overrides=ProfileOverrides(fixed_latency_s=0.3))) as running:
        yield running


def setup(
    server: EmulatorServer,
    primary: str = "ok",
    backup: str = "ok",
    *,
    wire: str = "openai",
    models: tuple[str, str] = ("gpt-4o-mini", "gpt-4o"),
    stack: list[Any] | None = None,
    **router: Any,
) -> Any:
    base = server.openai_base_url if wire == "openai" else server.anthropic_base_url

    def provider(fault: str) -> dict[str, Any]:
        return {"kind": wire, "base_url": base, "api_key_env": KEY_ENV, "headers": {"x-emulator-fault": fault}}

    return parse_config(
        {
            "providers": {"p1": provider(primary), "p2": provider(backup)},
            "models": {
                "primary": {"provider": "p1", "model": models[0]},
                "backup": {"provider": "p2", "model": models[1]},
            },
            "routers": {"safe": {"kind": "fallback", "order": ["primary", "backup"], **router}},
            "stack": stack or [],
        }
    )


def oa(gateway: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_base_url, api_key="sk-any", max_retries=0)


def claude(gateway: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.anthropic_base_url, api_key="sk-any", max_retries=0)


def test_every_target_rate_limited_is_a_429_with_the_shortest_retry_after_at_once(
    emulator: EmulatorServer, start_gateway: Any
) -> None:
    config = setup(emulator, "429:7", "429:3", stack=[{"retry": {"max_attempts": 5}}])
    with oa(start_gateway(config=config)) as client:
        started = time.monotonic()
        with pytest.raises(openai.RateLimitError) as limited:
            client.chat.completions.create(model="router/safe", messages=USER)
        assert time.monotonic() - started < 2.5  # not 5 attempts x 7 s
        assert limited.value.response.headers["retry-after"] == "3"
        assert emulator.stats.requests_total == 2  # one per target: their retry layers did not wait
        with pytest.raises(openai.RateLimitError) as again:  # both still cooling down: no upstream call
            client.chat.completions.create(model="router/safe", messages=USER, stream=True)
        assert int(again.value.response.headers["retry-after"]) in (2, 3)
        assert emulator.stats.requests_total == 2


def test_a_content_filter_refusal_is_the_providers_error_not_the_fallbacks_answer(
    emulator: EmulatorServer, start_gateway: Any
) -> None:
    with oa(start_gateway(config=setup(emulator, "content_filter"))) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="router/safe", messages=USER)
        assert refused.value.code == "content_filter"
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="router/safe", messages=USER, stream=True)
    assert emulator.stats.requests_total == 2  # the backup was never asked


def test_a_stream_and_its_header_name_the_model_that_answered_not_the_router(
    emulator: EmulatorServer, start_gateway: Any
) -> None:
    with oa(start_gateway(config=setup(emulator, "503"))) as client:
        raw = client.chat.completions.with_raw_response.create(model="router/safe", messages=USER, stream=True)
        chunks = list(raw.parse())
    assert raw.headers["x-inferopt-model"] == "gpt-4o"
    assert {c.model for c in chunks} == {"gpt-4o"}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize("fault", ["no_done", "malformed"])
def test_a_missing_done_or_one_malformed_event_still_answers_in_full(
    emulator: EmulatorServer, start_gateway: Any, fault: str
) -> None:
    config = setup(emulator, fault, models=("gpt-4o", "gpt-4o"))
    with oa(start_gateway(config=config)) as client:
        healthy = client.chat.completions.create(model="backup", messages=USER).choices[0].message.content
        stream = client.chat.completions.create(model="primary", messages=USER, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == healthy
    assert emulator.stats.requests_total == 2


def anthropic_text(client: anthropic.Anthropic, model: str, **extra: Any) -> tuple[str, Any]:
    with client.messages.stream(model=model, max_tokens=400, messages=USER, **extra) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    return text, final


@pytest.mark.parametrize("fault", ["drop:0.5", "error_event:0.4", "stall:0.5"])
def test_a_cut_anthropic_stream_continues_on_the_backup_by_prefill_exactly_once(
    emulator: EmulatorServer, start_gateway: Any, fault: str
) -> None:
    config = setup(emulator, fault, wire="anthropic", models=("claude-haiku-4-5",) * 2, stall_timeout_s=1.0)
    gateway = start_gateway(config=config)
    with claude(gateway) as client:
        healthy, whole = anthropic_text(client, "backup")
        started = time.monotonic()
        text, final = anthropic_text(client, "router/safe")
        elapsed = time.monotonic() - started
    assert wait_for(lambda: gateway.app.metrics.streams_rescued == 1)  # counted as the stream closes
    assert gateway.app.metrics.streams_failed == 0
    assert text == healthy  # no span missing, none repeated
    assert final.content[0].text == healthy
    assert emulator.stats.requests_total == 3  # the healthy reference, the cut attempt, the continuation
    assert final.usage.input_tokens > whole.usage.input_tokens  # both prompts are billed
    assert final.usage.output_tokens >= whole.usage.output_tokens - 2  # and what each attempt generated
    assert elapsed < 5.0  # a 1 s stall is noticed; the 2-core CI machine runs other tests beside this one


def test_a_cut_openai_stream_continues_by_instruction_without_repeating_the_text(
    emulator: EmulatorServer, start_gateway: Any
) -> None:
    config = setup(emulator, "drop:0.5", models=("gpt-4o", "gpt-4o"))
    with oa(start_gateway(config=config)) as client:
        healthy = client.chat.completions.create(model="backup", messages=USER).choices[0].message.content or ""
        chunks = list(
            client.chat.completions.create(
                model="router/safe", messages=USER, stream=True, stream_options={"include_usage": True}
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    # The emulator obeys the instruction as a model would: the text goes on from where it was cut.
    assert text == healthy and text.count(healthy[:40]) == 1  # nothing lost, nothing repeated
    assert finish == ["stop"] and chunks[-1].usage is not None
    assert emulator.stats.requests_total == 3


def test_a_retry_layer_rescues_a_cut_stream_on_the_same_target(emulator: EmulatorServer, start_gateway: Any) -> None:
    stack = [{"retry": {"max_attempts": 3, "initial_backoff_s": 0.01}}]
    config = setup(emulator, "drop:0.5,ok", wire="anthropic", models=("claude-haiku-4-5",) * 2, stack=stack)
    with claude(start_gateway(config=config)) as client:
        healthy, _ = anthropic_text(client, "backup")
        text, _ = anthropic_text(client, "primary")
    assert text == healthy
    assert emulator.stats.requests_total == 3


def test_a_stream_cut_before_its_tool_call_yields_one_valid_tool_call(
    emulator: EmulatorServer, start_gateway: Any
) -> None:
    tools: Any = [
        {
            "name": "weather",
            "description": "The weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }
    ]
    config = setup(emulator, "drop:0.5", wire="anthropic", models=("claude-haiku-4-5",) * 2)
    with claude(start_gateway(config=config)) as client:
        _, final = anthropic_text(client, "router/safe", tools=tools, tool_choice={"type": "any"})
    calls = [b for b in final.content if b.type == "tool_use"]
    assert len(calls) == 1 and isinstance(calls[0].input, dict) and "city" in calls[0].input
    json.dumps(calls[0].input)
    assert emulator.stats.requests_total == 2


def test_a_slow_first_token_starts_the_backup_after_first_token_timeout_s(
    emulator: EmulatorServer, start_gateway: Any
) -> None:
    config = setup(emulator, "slow:20", first_token_timeout_s=0.5, timeout_s=1.0)
    with oa(start_gateway(config=config)) as client:
        started = time.monotonic()
        raw = client.chat.completions.with_raw_response.create(model="router/safe", messages=USER, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
        assert time.monotonic() - started < 4.0 and text
        assert raw.headers["x-inferopt-model"] == "gpt-4o"
    config = setup(emulator, "hang", timeout_s=0.5)
    with oa(start_gateway(config=config)) as client:
        started = time.monotonic()
        answer = client.chat.completions.create(model="router/safe", messages=USER)
        assert time.monotonic() - started < 4.0 and answer.model == "gpt-4o"


def test_a_hedged_router_answers_from_the_backup_while_the_primary_is_slow(
    emulator: EmulatorServer, start_gateway: Any
) -> None:
    with oa(start_gateway(config=setup(emulator, "slow:10", hedge_after_s=0.5))) as client:
        healthy = client.chat.completions.with_raw_response.create(model="backup", messages=USER)
        started = time.monotonic()
        raw = client.chat.completions.with_raw_response.create(model="router/safe", messages=USER)
        plain_s = time.monotonic() - started
        started = time.monotonic()
        streamed = client.chat.completions.with_raw_response.create(model="router/safe", messages=USER, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in streamed.parse() if c.choices)
        stream_s = time.monotonic() - started
    assert raw.headers["x-inferopt-model"] == "gpt-4o" and streamed.headers["x-inferopt-model"] == "gpt-4o"
    assert text == raw.parse().choices[0].message.content
    assert plain_s < 2.0 and stream_s < 2.0  # 0.5 s, then the backup's 0.3 s answer: not the primary's 10 s
    # The cancelled primary is billed by estimate (its prompt), on top of the answer's own cost.
    assert float(raw.headers["x-inferopt-cost-usd"]) > float(healthy.headers["x-inferopt-cost-usd"])
    assert emulator.stats.requests_total == 1 + 2 + 2  # the reference, then primary and hedge twice
