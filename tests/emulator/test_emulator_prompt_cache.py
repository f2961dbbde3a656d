"""Provider prompt caching as each provider reports it in usage."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.emulator.prompt_cache import prefix_digests
from inferopt.emulator.token_runs import CharRun, FramingRun, TokenRun
from inferopt.tokens import count_tokens

FAST = ProfileOverrides(fixed_latency_s=0.0)
LongText = Callable[[int, str], str]


@pytest.fixture
def cache_server(clock: Any) -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(overrides=FAST, clock=clock)) as running:
        yield running


def openai_usage(server: EmulatorServer, system: str, question: str, key: str = "sk-a") -> Any:
    with openai.OpenAI(base_url=server.openai_base_url, api_key=key, max_retries=0) as client:
        completion = client.chat.completions.create(
            model="gpt-4o",
            max_tokens=5,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
        )
    return completion.usage


def test_openai_second_call_reads_the_shared_prefix_in_128_token_steps(
    cache_server: EmulatorServer, long_text: LongText
) -> None:
    system = long_text(1500, "policy")
    first = openai_usage(cache_server, system, "What is rule one?")
    second = openai_usage(cache_server, system, "And what is rule two, please?")
    assert first.prompt_tokens_details.cached_tokens == 0
    cached = second.prompt_tokens_details.cached_tokens
    assert cached >= 1024 and (cached - 1024) % 128 == 0
    shared = count_tokens(system, "gpt-4o")
    assert shared - 128 < cached <= shared + 3  # the longest step inside the shared system message
    assert second.prompt_tokens > cached  # prompt_tokens still includes the cached ones


def test_openai_short_prompts_and_other_keys_are_not_cached(cache_server: EmulatorServer, long_text: LongText) -> None:
    short = long_text(300, "short")
    openai_usage(cache_server, short, "q1")
    assert openai_usage(cache_server, short, "q2").prompt_tokens_details.cached_tokens == 0
    system = long_text(1500, "tenant")
    openai_usage(cache_server, system, "q1", key="sk-tenant-one")
    assert openai_usage(cache_server, system, "q2", key="sk-tenant-two").prompt_tokens_details.cached_tokens == 0
    assert openai_usage(cache_server, system, "q3", key="sk-tenant-one").prompt_tokens_details.cached_tokens > 0


def test_openai_cache_expires_after_its_ttl(cache_server: EmulatorServer, clock: Any, long_text: LongText) -> None:
    system = long_text(1500, "ttl")
    openai_usage(cache_server, system, "q1")
    clock.advance(301)
    assert openai_usage(cache_server, system, "q2").prompt_tokens_details.cached_tokens == 0


def anthropic_usage(
    server: EmulatorServer,
    system_text: str,
    question: str,
    *,
    model: str = "claude-sonnet-4-6",
    key: str = "sk-ant-a",
    ttl: str = "5m",
) -> Any:
    with anthropic.Anthropic(base_url=server.anthropic_base_url, api_key=key, max_retries=0) as client:
        message = client.messages.create(
            model=model,
            max_tokens=5,
            system=[
                {"type": "text", "text": "You answer questions about the policy."},
                {"type": "text", "text": system_text, "cache_control": {"type": "ephemeral", "ttl": ttl}},  # type: ignore[typeddict-item]
            ],
            messages=[{"role": "user", "content": question}],
        )
    return message.usage


def test_anthropic_writes_then_reads_a_cached_system_block(cache_server: EmulatorServer, long_text: LongText) -> None:
    system = long_text(1500, "handbook")
    first = anthropic_usage(cache_server, system, "What is rule one?")
    second = anthropic_usage(cache_server, system, "And rule two?")
    assert first.cache_creation_input_tokens > count_tokens(system, "claude-sonnet-4-6")
    assert first.cache_read_input_tokens == 0
    assert first.cache_creation.ephemeral_5m_input_tokens == first.cache_creation_input_tokens
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    # input_tokens excludes cache reads and writes: only the question after the breakpoint.
    assert 0 < second.input_tokens < 20
    total_first = first.input_tokens + first.cache_creation_input_tokens + first.cache_read_input_tokens
    total_second = second.input_tokens + second.cache_creation_input_tokens + second.cache_read_input_tokens
    assert total_second - total_first == count_tokens("And rule two?", "x") - count_tokens("What is rule one?", "x")


def test_anthropic_cache_expires_and_one_hour_ttl_is_reported_apart(
    cache_server: EmulatorServer, clock: Any, long_text: LongText
) -> None:
    system = long_text(1500, "expiring")
    anthropic_usage(cache_server, system, "q")
    clock.advance(299)
    assert anthropic_usage(cache_server, system, "q").cache_read_input_tokens > 0  # a hit restarts the 5 min
    clock.advance(299)
    assert anthropic_usage(cache_server, system, "q").cache_read_input_tokens > 0
    clock.advance(301)
    expired = anthropic_usage(cache_server, system, "q")
    assert expired.cache_read_input_tokens == 0 and expired.cache_creation_input_tokens > 0

    hour = anthropic_usage(cache_server, long_text(1500, "hourly"), "q", ttl="1h")
    assert hour.cache_creation.ephemeral_1h_input_tokens == hour.cache_creation_input_tokens > 0
    clock.advance(1800)
    assert anthropic_usage(cache_server, long_text(1500, "hourly"), "q", ttl="1h").cache_read_input_tokens > 0


def test_anthropic_prefix_below_the_model_minimum_is_not_cached(
    cache_server: EmulatorServer, long_text: LongText
) -> None:
    # ~1500 tokens: above Sonnet 4.6's 1024 minimum, below Haiku 4.5's 4096.
    system = long_text(1500, "minimum")
    for _ in range(2):
        usage = anthropic_usage(cache_server, system, "q", model="claude-haiku-4-5")
        assert usage.cache_creation_input_tokens == 0 and usage.cache_read_input_tokens == 0
    assert (
        anthropic_usage(
            cache_server, long_text(4200, "minimum"), "q", model="claude-haiku-4-5"
        ).cache_creation_input_tokens
        > 0
    )


def test_anthropic_tenants_do_not_share_entries(cache_server: EmulatorServer, long_text: LongText) -> None:
    system = long_text(1500, "tenants")
    anthropic_usage(cache_server, system, "q", key="sk-ant-one")
    other = anthropic_usage(cache_server, system, "q", key="sk-ant-two")
    assert other.cache_read_input_tokens == 0 and other.cache_creation_input_tokens > 0


def test_anthropic_rejects_more_than_four_breakpoints(cache_server: EmulatorServer) -> None:
    blocks: Any = [{"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}} for i in range(5)]
    with (
        anthropic.Anthropic(base_url=cache_server.anthropic_base_url, api_key="k", max_retries=0) as client,
        pytest.raises(anthropic.BadRequestError) as caught,
    ):
        client.messages.create(
            model="claude-sonnet-4-6", max_tokens=5, system=blocks, messages=[{"role": "user", "content": "q"}]
        )
    assert "A maximum of 4 blocks with cache_control may be provided. Found 5." in str(caught.value)


def test_a_conversation_reads_the_previous_turns_breakpoint(cache_server: EmulatorServer, long_text: LongText) -> None:
    """The breakpoint moves to the newest turn; the 20-block lookback finds the old one."""
    document = long_text(1500, "conversation")
    turn1: Any = [
        {"role": "user", "content": [{"type": "text", "text": document, "cache_control": {"type": "ephemeral"}}]}
    ]
    turn2: Any = [
        {"role": "user", "content": [{"type": "text", "text": document}]},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": [{"type": "text", "text": "Summarise.", "cache_control": {"type": "ephemeral"}}]},
    ]
    with anthropic.Anthropic(base_url=cache_server.anthropic_base_url, api_key="k", max_retries=0) as client:
        first = client.messages.create(model="claude-sonnet-4-6", max_tokens=5, messages=turn1)
        second = client.messages.create(model="claude-sonnet-4-6", max_tokens=5, messages=turn2)
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert (second.usage.cache_creation_input_tokens or 0) > 0  # the new turn is written after the hit
    assert second.usage.input_tokens == 3  # only the reply primer follows the last breakpoint


def test_prefix_digests_do_not_depend_on_how_the_prompt_is_split() -> None:
    salt = b"tenant"
    whole: list[TokenRun] = [FramingRun("user"), CharRun("abcdefgh" * 100)]
    split: list[TokenRun] = [FramingRun("user"), CharRun("abcdefgh" * 50), CharRun("abcdefgh" * 50)]
    cuts = [10, 100, 150, 203]
    assert prefix_digests(whole, cuts, salt) == prefix_digests(split, cuts, salt)
    assert prefix_digests(whole, cuts, salt) != prefix_digests(whole, cuts, b"other tenant")
