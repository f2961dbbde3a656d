"""The Responses API with the official ``openai`` SDK, against the emulator and through the gateway:
plain and streamed answers valid against the spec, tools, structured outputs, stored responses and
``previous_response_id``, a Claude model behind the Responses wire, the cache, tenants, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from inferopt.emulator import EmulatorServer
from inferopt.gateway.keys_sqlite import SQLiteKeyStore

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    "strict": True,
}


# Each streamed event's own schema in the spec (ResponseStreamEvent is their anyOf).
EVENT_SCHEMAS = {
    "response.created": "ResponseCreatedEvent",
    "response.in_progress": "ResponseInProgressEvent",
    "response.output_item.added": "ResponseOutputItemAddedEvent",
    "response.output_item.done": "ResponseOutputItemDoneEvent",
    "response.content_part.added": "ResponseContentPartAddedEvent",
    "response.content_part.done": "ResponseContentPartDoneEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent",
    "response.output_text.done": "ResponseTextDoneEvent",
    "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaEvent",
    "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneEvent",
    "response.completed": "ResponseCompletedEvent",
    "response.incomplete": "ResponseIncompleteEvent",
    "response.failed": "ResponseFailedEvent",
    "error": "ResponseErrorEvent",
}


@pytest.fixture(params=["gateway", "emulator"])
def base_url(request: pytest.FixtureRequest, emulator: EmulatorServer, start_gateway: Any) -> str:
    if request.param == "emulator":
        return emulator.openai_base_url
    return str(start_gateway(emulator).openai_base_url)


def client_for(base_url: str, key: str = "sk-test") -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)


def test_plain_answer_is_a_spec_response(base_url: str, openai_spec: Any) -> None:
    client = client_for(base_url)
    raw = client.responses.with_raw_response.create(
        model="gpt-4o-mini", input="Say something short.", instructions="Be brief."
    )
    openai_spec(raw.http_response.json(), "Response")
    response = raw.parse()
    assert response.status == "completed" and response.output_text
    assert response.instructions == "Be brief."
    assert response.usage is not None and response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    cut = client.responses.with_raw_response.create(model="gpt-4o-mini", input="Tell me a story.", max_output_tokens=5)
    openai_spec(cut.http_response.json(), "Response")
    incomplete = cut.parse()
    assert incomplete.status == "incomplete" and incomplete.incomplete_details is not None
    assert incomplete.incomplete_details.reason == "max_output_tokens" and incomplete.max_output_tokens == 5
    assert incomplete.usage is not None and incomplete.usage.output_tokens == 5


def test_stream_is_the_full_typed_sequence(base_url: str, openai_spec: Any) -> None:
    body = {"model": "gpt-4o-mini", "input": [{"role": "user", "content": "Tell me a story."}], "stream": True}
    headers = {"Authorization": "Bearer sk-test"}
    with httpx.stream("POST", base_url + "/responses", json=body, headers=headers, timeout=30) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in raw.iter_lines() if line.startswith("data: ")]
    kinds = [e["type"] for e in events]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    final = events[-1]["response"]
    assert kinds.count("response.output_text.delta") >= 1
    assert final["output"][0]["content"][0]["text"] == deltas and final["usage"]["output_tokens"] > 0
    assert final["output"][0]["id"] == events[2]["item"]["id"]
    for e in events:
        openai_spec(e, EVENT_SCHEMAS[e["type"]])


def test_sdk_stream_helper_accumulates_the_answer(base_url: str) -> None:
    client = client_for(base_url)
    with client.responses.stream(model="gpt-4o-mini", input="Write two sentences.") as stream:
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == "".join(texts) and texts


def test_tool_loop_with_previous_response_id(base_url: str) -> None:
    client = client_for(base_url)
    first = client.responses.create(
        model="gpt-4o-mini", input="What is the weather in Paris?", tools=[WEATHER], tool_choice="required"
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    arguments = json.loads(calls[0].arguments)
    assert isinstance(arguments["city"], str) and arguments["unit"] in ("c", "f")
    second = client.responses.create(
        model="gpt-4o-mini",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "Sunny, 21 C"}],
        tools=[WEATHER],
    )
    assert "Sunny, 21 C" in second.output_text
    assert second.previous_response_id == first.id
    # The whole conversation is what the follow-up answered: its prompt is longer than the first's.
    assert second.usage is not None and first.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens


def test_tool_call_streams_as_argument_deltas(base_url: str) -> None:
    client = client_for(base_url)
    with client.responses.stream(
        model="gpt-4o-mini",
        input="Weather in Rome?",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
    ) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert kinds.count("response.function_call_arguments.delta") >= 1
    assert "response.function_call_arguments.done" in kinds
    call = next(item for item in final.output if item.type == "function_call")
    assert json.loads(call.arguments)["city"]


class Event(BaseModel):
    name: str
    attendees: list[str]
    day: int


def test_structured_output_parses(base_url: str) -> None:
    client = client_for(base_url)
    response = client.responses.parse(model="gpt-4o-mini", input="Alice and Bob meet on day 3.", text_format=Event)
    parsed = response.output_parsed
    assert isinstance(parsed, Event) and isinstance(parsed.attendees, list)


def test_stored_response_get_items_and_delete(base_url: str) -> None:
    client = client_for(base_url)
    created = client.responses.create(model="gpt-4o-mini", input="Remember this.")
    fetched = client.responses.retrieve(created.id)
    assert fetched.id == created.id and fetched.output_text == created.output_text
    items = client.responses.input_items.list(created.id)
    assert [item.type for item in items.data] == ["message"]
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    unstored = client.responses.create(model="gpt-4o-mini", input="Forget this.", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)
    with pytest.raises(openai.BadRequestError, match="not found"):
        client.responses.create(model="gpt-4o-mini", input="More.", previous_response_id=unstored.id)


def test_a_claude_model_answers_the_responses_wire(emulator: EmulatorServer, start_gateway: Any) -> None:
    client = client_for(str(start_gateway(emulator).openai_base_url))
    response = client.responses.create(model="haiku", input="Hello Claude.", max_output_tokens=40)
    assert response.output_text and response.model.startswith("claude-haiku")
    with client.responses.stream(model="haiku", input="Hello again.") as stream:
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == "".join(texts) and texts
    before = emulator.app.stats.snapshot()["by_route"].get("/v1/messages", 0)
    assert before >= 2  # both calls went upstream as Anthropic Messages


def test_the_cache_serves_a_repeated_responses_call(
    emulator: EmulatorServer, start_gateway: Any, gateway_config: Any
) -> None:
    config = gateway_config(emulator).with_layer("cache", {"url": "memory://"})
    client = client_for(str(start_gateway(config=config).openai_base_url))
    asked = {"model": "fast", "input": "Cache me: what is 2+2?", "temperature": 0}
    sent = emulator.app.stats.snapshot()["by_route"].get("/v1/chat/completions", 0)
    first = client.responses.with_raw_response.create(**asked)
    again = client.responses.with_raw_response.create(**asked)
    assert first.headers["x-inferopt-cache"] == "miss" and again.headers["x-inferopt-cache"] == "hit"
    assert again.parse().output_text == first.parse().output_text
    assert emulator.app.stats.snapshot()["by_route"].get("/v1/chat/completions", 0) == sent + 1


def test_tenants_do_not_see_each_others_responses(emulator: EmulatorServer, start_gateway: Any, tmp_path: Path) -> None:
    import asyncio

    store = SQLiteKeyStore(str(tmp_path / "keys.db"))
    _, secret_a = asyncio.run(store.create("a"))
    _, secret_b = asyncio.run(store.create("b"))
    gateway = start_gateway(emulator, keys=store)
    a, b = client_for(str(gateway.openai_base_url), secret_a), client_for(str(gateway.openai_base_url), secret_b)
    created = a.responses.create(model="fast", input="Private to tenant a.")
    assert a.responses.retrieve(created.id).id == created.id
    with pytest.raises(openai.NotFoundError):
        b.responses.retrieve(created.id)
    with pytest.raises(openai.BadRequestError):
        b.responses.create(model="fast", input="Continue.", previous_response_id=created.id)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "fast"}, "input"),
        ({"model": "fast", "input": 3}, "input"),
        ({"model": "fast", "input": [{"type": "web_search_call"}]}, "input[0].type"),
        ({"model": "fast", "input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"model": "fast", "input": "x", "text": {"format": {"type": "json_schema"}}}, "text.format"),
        ({"model": "fast", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "x"}, "model"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    body: dict[str, Any], param: str, emulator: EmulatorServer, start_gateway: Any
) -> None:
    gateway = start_gateway(emulator)
    response = httpx.post(str(gateway.openai_base_url) + "/responses", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_a_cached_tool_call_replays_exactly_and_tools_are_part_of_the_key(
    emulator: EmulatorServer, start_gateway: Any, gateway_config: Any
) -> None:
    config = gateway_config(emulator).with_layer("cache", {"url": "memory://"})
    client = client_for(str(start_gateway(config=config).openai_base_url))
    chat_tool = {"type": "function", "function": {k: v for k, v in WEATHER.items() if k != "type"}}
    asked: dict[str, Any] = {
        "model": "fast",
        "messages": [{"role": "user", "content": "Weather in Oslo?"}],
        "tools": [chat_tool],
        "tool_choice": "required",
        "temperature": 0,
    }
    first = client.chat.completions.with_raw_response.create(**asked)
    calls = first.parse().choices[0].message.tool_calls
    assert first.headers["x-inferopt-cache"] == "miss" and calls
    with client.chat.completions.with_streaming_response.create(**asked, stream=True) as streamed:
        assert streamed.headers["x-inferopt-cache"] == "hit"
        chunks = [json.loads(line[6:]) for line in streamed.iter_lines() if line.startswith("data: {")]
    fragments = [tc for c in chunks for ch in c["choices"] for tc in ch["delta"].get("tool_calls") or ()]
    assert "".join(f["function"].get("arguments", "") for f in fragments) == calls[0].function.arguments
    assert next(f["id"] for f in fragments if f.get("id")) == calls[0].id
    other = client.chat.completions.with_raw_response.create(**{**asked, "tool_choice": "none"})
    assert other.headers["x-inferopt-cache"] == "miss"  # another tool choice is another answer
