"""The capability table and its policy: what a request becomes for the model it goes to."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from inferopt.capabilities import DEFAULT_POLICY, Capable, adapt, default_table, lacks, policy_from_options
from inferopt.capabilities.table import table_from_data
from inferopt.cli.main import cli
from inferopt.errors import ConfigError, UnsupportedParameterError
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest, Message, StreamDone

TABLE = default_table()
SCHEMA = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object", "required": ["x"]}}}


def test_rows_name_what_each_family_takes() -> None:
    o3, gpt4o, sonnet, haiku = (
        TABLE.get(m) for m in ("o3", "gpt-4o", "claude-sonnet-4-5", "claude-haiku-4-5-20251001")
    )
    assert (o3.temperature, o3.max_tokens_field, o3.logprobs, o3.thinking) == (
        False,
        "max_completion_tokens",
        False,
        "effort",
    )
    assert (gpt4o.temperature, gpt4o.max_tokens_field, gpt4o.logprobs, gpt4o.json_schema) == (
        True,
        "max_tokens",
        True,
        True,
    )
    assert (sonnet.n, sonnet.logprobs, sonnet.json_schema, sonnet.thinking) == (False, False, False, "budget")
    assert sonnet.sampling_exclusive and haiku.prompt_cache_min_tokens == 4096  # dated id -> its family
    assert o3.context_window == 200_000 and o3.max_output_tokens == 100_000  # from the price catalog


def test_a_model_no_family_names_is_sent_as_asked() -> None:
    row = TABLE.get("my-org/llama-3.1-8b-finetune")
    request = ChatRequest.of("hi", model=row.model, temperature=0.3, seed=1, tools=[{"type": "function"}])
    adapted = adapt(request, row, DEFAULT_POLICY)
    assert row.family is None and adapted.request is request and not adapted.dropped


def test_reasoning_models_lose_sampling_but_keep_the_default_value() -> None:
    row = TABLE.get("gpt-5-mini")
    dropped = adapt(ChatRequest.of("hi", model="gpt-5-mini", temperature=0.2, top_p=0.5), row, DEFAULT_POLICY)
    assert dropped.request.temperature is None and dropped.request.top_p is None
    assert dropped.dropped == ["temperature", "top_p"]
    kept = adapt(ChatRequest.of("hi", model="gpt-5-mini", temperature=1), row, DEFAULT_POLICY)
    assert kept.request.temperature == 1 and not kept.dropped
    with pytest.raises(UnsupportedParameterError, match=r"'temperature'.*capabilities: \{temperature: drop\}") as info:
        adapt(
            ChatRequest.of("hi", model="gpt-5-mini", temperature=0.2), row, {**DEFAULT_POLICY, "temperature": "reject"}
        )
    assert info.value.status == 400 and info.value.param == "temperature"


def test_claude_45_takes_temperature_or_top_p_not_both() -> None:
    request = ChatRequest.of("hi", model="claude-sonnet-4-5", temperature=0.2, top_p=0.9)
    adapted = adapt(request, TABLE.get("claude-sonnet-4-5"), DEFAULT_POLICY)
    assert (adapted.request.temperature, adapted.request.top_p, adapted.dropped) == (0.2, None, ["top_p"])
    older = adapt(request, TABLE.get("claude-sonnet-4"), DEFAULT_POLICY)
    assert older.request.top_p == 0.9 and not older.dropped


def test_thinking_is_translated_between_effort_and_budget() -> None:
    to_claude = adapt(
        ChatRequest.of("hi", model="claude-sonnet-4-5", reasoning_effort="medium", max_tokens=500),
        TABLE.get("claude-sonnet-4-5"),
        DEFAULT_POLICY,
    )
    assert to_claude.request.reasoning_effort is None
    assert to_claude.request.extra["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert to_claude.request.max_tokens > 8192  # Anthropic: the budget must be below max_tokens
    budget = {"thinking": {"type": "enabled", "budget_tokens": 3000}}
    to_openai = adapt(ChatRequest.of("hi", model="o3", extra=budget), TABLE.get("o3"), DEFAULT_POLICY)
    assert to_openai.request.reasoning_effort == "medium" and "thinking" not in to_openai.request.extra
    no_reasoning = adapt(
        ChatRequest.of("hi", model="gpt-4o", reasoning_effort="high"), TABLE.get("gpt-4o"), DEFAULT_POLICY
    )
    assert no_reasoning.request.reasoning_effort is None and no_reasoning.dropped == ["reasoning_effort"]


def test_what_would_change_the_answer_is_refused_or_translated_on_request() -> None:
    old = TABLE.get("gpt-3.5-turbo-1106")
    request = ChatRequest.of("hi", model=old.model, response_format=SCHEMA)
    with pytest.raises(UnsupportedParameterError, match="json_schema"):
        adapt(request, old, DEFAULT_POLICY)
    assert lacks(request, old, DEFAULT_POLICY) == ["json_schema"]
    policy = policy_from_options({"json_schema": "translate"})
    translated = adapt(request, old, policy)
    assert translated.request.response_format == {"type": "json_object"}
    assert '"required": ["x"]' in translated.request.messages[0].text and translated.translated == [
        "json_schema->json_object"
    ]
    assert lacks(request, old, policy) == []
    image = Message("user", [{"type": "text", "text": "what is it"}, {"type": "image_url", "image_url": {"url": "x"}}])
    with pytest.raises(UnsupportedParameterError, match="images"):
        adapt(ChatRequest(model=old.model, messages=[image]), old, DEFAULT_POLICY)
    stripped = adapt(ChatRequest(model=old.model, messages=[image]), old, policy_from_options({"images": "drop"}))
    assert stripped.request.messages[0].content == [{"type": "text", "text": "what is it"}]


def test_bad_policies_and_tables_name_the_fix() -> None:
    with pytest.raises(ConfigError, match="unknown parameter 'temprature'"):
        policy_from_options({"temprature": "drop"})
    with pytest.raises(ConfigError, match="use drop or reject"):
        policy_from_options({"tools": "translate"})
    with pytest.raises(ConfigError, match=r"families\[0\].*unknown keys \['temp'\]"):
        table_from_data({"defaults": {}, "families": [{"match": ["x*"], "temp": False}]})


def test_capable_reports_what_it_dropped_on_plain_and_streamed_answers() -> None:
    inner = FunctionModel(lambda r: f"t={r.temperature}")
    model = Capable(inner, TABLE, DEFAULT_POLICY)
    request = ChatRequest.of("hi", model="o4-mini", temperature=0.1)

    async def run() -> tuple[str, str, str]:
        plain = await model.complete(request)
        done = [e async for e in model.stream(ChatRequest.of("hi", model="o4-mini", temperature=0.1))][-1]
        assert isinstance(done, StreamDone)
        return plain.content, plain.annotations["dropped_params"], done.response.annotations["dropped_params"]

    assert asyncio.run(run()) == ("t=None", "temperature", "temperature")
    assert inner.calls[0].temperature is None and request.temperature == 0.1  # the caller's request is unchanged


def test_models_command_prints_the_table_and_json() -> None:
    runner = CliRunner()
    table = runner.invoke(cli, ["models", "o3", "claude-sonnet-4-5"])
    assert table.exit_code == 0 and "max_completion_tokens" in table.output and "claude-sonnet-4-5" in table.output
    rows = json.loads(runner.invoke(cli, ["models", "--json", "o3"]).output)
    assert rows[0]["model"] == "o3" and rows[0]["temperature"] is False and rows[0]["context_window"] == 200_000


def test_max_tokens_over_the_models_limit_is_clamped_or_refused() -> None:
    old = TABLE.get("gpt-3.5-turbo-1106")
    request = ChatRequest.of("hi", model=old.model, max_tokens=10_000)
    clamped = adapt(request, old, DEFAULT_POLICY)
    assert clamped.request.max_tokens == 4096 and clamped.translated == ["max_tokens=10000->4096"]
    assert adapt(ChatRequest.of("hi", model=old.model, max_tokens=100), old, DEFAULT_POLICY).request.max_tokens == 100
    with pytest.raises(UnsupportedParameterError, match="output limit of 4096"):
        adapt(request, old, policy_from_options({"max_tokens": "reject"}))
    with pytest.raises(ConfigError, match="use translate or reject"):
        policy_from_options({"max_tokens": "drop"})
