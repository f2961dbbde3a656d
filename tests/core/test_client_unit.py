"""AsyncClient and Client logic over an in-process FunctionModel (no HTTP)."""

import pytest

from inferopt import ChatRequest, StreamDone, TextDelta
from inferopt.client import AsyncClient, Client
from inferopt.config import parse_config
from inferopt.errors import ConfigError, UnknownModelError
from inferopt.pricing import CostUnknownWarning
from inferopt.testing import FunctionModel


def echo(request: ChatRequest) -> str:
    return f"echo: {request.last_user_text}"


async def test_complete_prices_a_known_model() -> None:
    fake = FunctionModel(echo)
    async with AsyncClient(parse_config({}), models={"gpt-4o-mini": fake}) as client:
        answer = await client.complete("hello", model="gpt-4o-mini", temperature=0)
    assert answer.content == "echo: hello"
    assert fake.calls[0].temperature == 0 and fake.calls[0].messages[-1].content == "hello"
    assert answer.cost_usd is not None and answer.cost_usd > 0


async def test_unknown_price_warns_once_and_reports_none_not_zero() -> None:
    async with AsyncClient(parse_config({}), models={"my-local-llm": FunctionModel(echo)}) as client:
        with pytest.warns(CostUnknownWarning, match="my-local-llm"):
            first = await client.complete("a", model="my-local-llm")
        second = await client.complete("b", model="my-local-llm")  # no second warning (would error here)
    assert first.cost_usd is None and second.cost_usd is None


async def test_stream_yields_deltas_then_priced_done() -> None:
    async with AsyncClient(parse_config({}), models={"gpt-4o-mini": FunctionModel(echo, chunk_size=3)}) as client:
        events = [e async for e in client.stream("streaming", model="gpt-4o-mini")]
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1 and "".join(deltas) == "echo: streaming"
    assert isinstance(events[-1], StreamDone) and events[-1].response.cost_usd is not None


async def test_messages_and_system_are_accepted() -> None:
    fake = FunctionModel(echo)
    async with AsyncClient(parse_config({}), models={"gpt-4o": fake}) as client:
        await client.complete([{"role": "user", "content": "x"}], model="gpt-4o", system="rules")
    assert [m.role for m in fake.calls[0].messages] == ["system", "user"]


async def test_an_unknown_parameter_names_the_extra_fix() -> None:
    async with AsyncClient(parse_config({}), models={"gpt-4o": FunctionModel(echo)}) as client:
        with pytest.raises(
            TypeError, match=r"unknown request parameter\(s\) \['logprobs'\].*extra=\{'logprobs': ...\}"
        ):
            await client.complete("x", model="gpt-4o", logprobs=True)
        answer = await client.complete("x", model="gpt-4o", extra={"logprobs": True}, temperature=0)
    assert answer.content


def test_sync_twin_gives_the_same_answers() -> None:
    with Client(parse_config({}), models={"gpt-4o-mini": FunctionModel(echo)}) as client:
        assert client.complete("sync", model="gpt-4o-mini").content == "echo: sync"
        text = "".join(e.text for e in client.stream("s2", model="gpt-4o-mini") if isinstance(e, TextDelta))
    assert text == "echo: s2"


def test_resolution_rules() -> None:
    config = parse_config(
        {
            "providers": {"oa": {"kind": "openai"}, "an": {"kind": "anthropic"}},
            "models": {"fast": {"provider": "oa", "model": "gpt-4o-mini"}},
            "default_model": "fast",
        }
    )
    client = AsyncClient(config)
    assert (client.resolve().provider, client.resolve().model) == ("oa", "gpt-4o-mini")
    assert client.resolve("an/claude-haiku-4-5").wire == "anthropic"
    assert client.resolve("claude-sonnet-4-5").provider == "an"  # by model family
    assert client.resolve("gpt-4.1").provider == "oa"


def test_unknown_model_lists_what_would_work() -> None:
    config = parse_config(
        {
            "providers": {"a": {"kind": "openai"}, "b": {"kind": "openai"}},
            "models": {"fast": {"provider": "a", "model": "x"}},
        }
    )
    with pytest.raises(UnknownModelError, match=r"'mystery'.*fast.*\['a', 'b'\]"):
        AsyncClient(config).resolve("mystery")


def test_unknown_stack_wrapper_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"stack\[0\].*unknown optimization 'turbo'"):
        AsyncClient(parse_config({"stack": [{"turbo": {}}]}, source="f.yaml"))


async def test_a_cache_hit_costs_nothing() -> None:
    from inferopt.types import ChatResponse, Usage

    def cached(request: ChatRequest) -> ChatResponse:
        response = ChatResponse(id="c", model="gpt-4o-mini", content="x", usage=Usage(1000, 100))
        response.cache = "hit"
        return response

    async with AsyncClient(parse_config({}), models={"gpt-4o-mini": FunctionModel(cached)}) as client:
        answer = await client.complete("q", model="gpt-4o-mini")
    assert answer.cost_usd == 0.0 and answer.usage.input_tokens == 1000  # usage kept, nothing paid


def test_command_line_layers_go_outside_the_files_stack() -> None:
    from inferopt.cli.batch import with_limits

    config = with_limits(parse_config({"stack": [{"retry": {"max_attempts": 9}}]}), 60, None, 3, None, "memory://")
    assert [next(iter(layer)) for layer in config.stack] == ["cache", "rate_limit", "retry"]
    assert config.stack[2]["retry"] == {"max_attempts": 9}  # the file's own retry wins over --max-attempts
