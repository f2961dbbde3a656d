"""Tools and structured outputs against the emulator, with the official SDKs as clients.

An agent loop must be developable against the emulator: a named or required tool is called with
arguments valid against its schema, the tool's result gets an answer that uses it, ``json_schema``
answers parse into the caller's model, and all of it also streams, on both wires.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import jsonschema
import openai
import pydantic
import pytest

from inferopt.emulator import EmulatorServer

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["city", "unit", "days"],
    "additionalProperties": False,
}
TOOLS: Any = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA, "strict": True}},
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
        },
    },
]
ASK: Any = [{"role": "user", "content": "What is the weather in Oslo?"}]


@pytest.fixture
def client(server: EmulatorServer) -> Any:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0) as c:
        yield c


def test_tool_choice_names_a_function_and_the_arguments_fit_its_schema(client: Any) -> None:
    choice: Any = {"type": "function", "function": {"name": "get_weather"}}
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=ASK, tools=TOOLS, tool_choice=choice)
    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call.function.name == "get_weather" and call.id.startswith("call_")
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, WEATHER_SCHEMA)
    assert arguments["city"] == "Oslo"  # filled from the user's words


def test_a_tool_loop_runs_to_a_final_answer_that_uses_the_result(client: Any) -> None:
    messages: Any = list(ASK)
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]  # auto with tools: the named tool is called
    assert call.function.name == "get_weather"
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 degrees"},
    ]
    final = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    assert final.choices[0].finish_reason == "stop"
    assert "Sunny, 21 degrees" in (final.choices[0].message.content or "")


def test_parallel_calls_none_and_required(client: Any) -> None:
    both: Any = [{"role": "user", "content": "Use get_weather and get_time for Oslo."}]
    parallel = client.chat.completions.create(model="gpt-4o-mini", messages=both, tools=TOOLS)
    assert [c.function.name for c in parallel.choices[0].message.tool_calls] == ["get_weather", "get_time"]
    single = client.chat.completions.create(model="gpt-4o-mini", messages=both, tools=TOOLS, parallel_tool_calls=False)
    assert len(single.choices[0].message.tool_calls) == 1
    none = client.chat.completions.create(model="gpt-4o-mini", messages=ASK, tools=TOOLS, tool_choice="none")
    assert none.choices[0].message.tool_calls is None and none.choices[0].message.content
    required = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}], tools=TOOLS, tool_choice="required"
    )
    assert required.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_streamed_tool_calls_arrive_in_fragments_and_join_to_valid_json(client: Any) -> None:
    choice: Any = {"type": "function", "function": {"name": "get_weather"}}
    chunks = list(
        client.chat.completions.create(model="gpt-4o-mini", messages=ASK, tools=TOOLS, tool_choice=choice, stream=True)
    )
    fragments = [c.choices[0].delta.tool_calls[0] for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert len(fragments) >= 2 and fragments[0].function.name == "get_weather" and fragments[0].id
    jsonschema.validate(json.loads("".join(f.function.arguments or "" for f in fragments)), WEATHER_SCHEMA)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


class Person(pydantic.BaseModel):
    name: str
    age: int
    tags: list[str]
    role: str | None


def test_structured_output_parses_into_the_callers_model(client: Any) -> None:
    completion = client.chat.completions.parse(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Describe Ada Lovelace"}], response_format=Person
    )
    person = completion.choices[0].message.parsed
    assert isinstance(person, Person) and person.name and isinstance(person.age, int)
    as_object = client.chat.completions.create(
        model="gpt-4o-mini", messages=ASK, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(as_object.choices[0].message.content), dict)


def test_anthropic_tool_use_plain_and_streamed_then_a_tool_result(server: EmulatorServer) -> None:
    tools: Any = [{"name": "get_weather", "description": "Weather by city", "input_schema": WEATHER_SCHEMA}]
    with anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="sk-test", max_retries=0) as client:
        message = client.messages.create(
            model="claude-haiku-4-5", max_tokens=200, messages=ASK, tools=tools, tool_choice={"type": "any"}
        )
        assert message.stop_reason == "tool_use"
        block = next(b for b in message.content if b.type == "tool_use")
        jsonschema.validate(block.input, WEATHER_SCHEMA)
        with client.messages.stream(
            model="claude-haiku-4-5",
            max_tokens=200,
            messages=ASK,
            tools=tools,
            tool_choice={"type": "tool", "name": "get_weather"},
        ) as stream:
            streamed = stream.get_final_message()
        tool_block = next(b for b in streamed.content if b.type == "tool_use")
        jsonschema.validate(tool_block.input, WEATHER_SCHEMA)
        follow: Any = [
            *ASK,
            {"role": "assistant", "content": [b.model_dump() for b in message.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "Rain, 9 C"}]},
        ]
        final = client.messages.create(model="claude-haiku-4-5", max_tokens=200, messages=follow, tools=tools)
        assert final.stop_reason == "end_turn"
        assert "Rain, 9 C" in "".join(b.text for b in final.content if b.type == "text")
