"""The exact-cache key covers everything that changes the answer, and nothing that does not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inferopt.cache import CachePolicy, cache_key
from inferopt.cache.policy import Action
from inferopt.types import ChatRequest, Message

BASE = ChatRequest.of("What is 2+2?", model="gpt-4o-mini", system="Be brief.", temperature=0)


@pytest.mark.parametrize(
    "change",
    [
        {"model": "gpt-4o"},
        {"messages": [Message("system", "Be brief."), Message("user", "What is 2+3?")]},
        {"messages": [Message("system", "Be verbose."), Message("user", "What is 2+2?")]},
        {"temperature": 0.5},
        {"top_p": 0.9},
        {"max_tokens": 10},
        {"stop": ["\n"]},
        {"seed": 7},
        {"tools": [{"type": "function", "function": {"name": "add"}}]},
        {"tool_choice": "required"},
        {"response_format": {"type": "json_object"}},
        {"reasoning_effort": "high"},
        {"extra": {"thinking": {"type": "enabled", "budget_tokens": 1024}}},
        {"extra": {"top_k": 5}},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_answer_changing_field_changes_the_key(change: dict[str, object]) -> None:
    assert cache_key(replace(BASE, **change)) != cache_key(BASE)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"options": {"cache": "refresh"}},
        {"user": "alice"},
        {"metadata": {"trace": "1"}},
        {"extra": {"prompt_cache_key": "kb-v1"}},
    ],
    ids=lambda change: next(iter(change)),
)
def test_fields_that_never_change_the_answer_leave_the_key_alone(change: dict[str, object]) -> None:
    assert cache_key(replace(BASE, **change)) == cache_key(BASE)  # type: ignore[arg-type]


def test_cache_control_markers_and_single_text_part_do_not_change_the_key() -> None:
    parts = [{"type": "text", "text": "What is 2+2?", "cache_control": {"type": "ephemeral"}}]
    marked = replace(BASE, messages=[Message("system", "Be brief."), Message("user", parts)])
    assert cache_key(marked) == cache_key(BASE)


def test_namespaces_never_share_keys() -> None:
    assert cache_key(BASE, namespace="a") != cache_key(BASE, namespace="b")
    assert cache_key(BASE, namespace="a").startswith("a:")


def test_normalisation_is_opt_in() -> None:
    shouted = ChatRequest.of("  WHAT is   2+2? ", model="gpt-4o-mini", system="be brief.", temperature=0)
    assert cache_key(shouted) != cache_key(BASE)
    assert cache_key(shouted, normalise=True) == cache_key(BASE, normalise=True)


def test_policy_caches_only_deterministic_requests_by_default() -> None:
    policy = CachePolicy()
    assert policy.action_for(BASE) is Action.LOOKUP
    assert policy.action_for(replace(BASE, temperature=None)) is Action.BYPASS
    assert policy.action_for(replace(BASE, temperature=0.7, seed=3)) is Action.LOOKUP
    assert policy.action_for(replace(BASE, temperature=0.7, options={"cache": "use"})) is Action.LOOKUP
    assert CachePolicy(cache_nondeterministic=True).action_for(replace(BASE, temperature=1)) is Action.LOOKUP
    assert policy.action_for(replace(BASE, options={"cache": "refresh"})) is Action.REFRESH
    assert policy.action_for(replace(BASE, options={"cache": "bypass"})) is Action.BYPASS


def test_bad_switches_are_named() -> None:
    with pytest.raises(ValueError, match="cache='skip'"):
        CachePolicy().action_for(replace(BASE, options={"cache": "skip"}))
    with pytest.raises(ValueError, match="namespace"):
        CachePolicy(namespace="a:b")
    assert CachePolicy(allow_request_namespace=False).namespace_for(replace(BASE, options={"namespace": "x"})) == (
        "default"
    )


def test_every_request_field_is_classified_for_the_key() -> None:
    """A field added to ChatRequest must be put in the key or declared answer-neutral here, never forgotten."""
    from dataclasses import fields

    from inferopt.cache.keys import request_identity

    in_key = set(request_identity(BASE))
    answer_neutral = {"options", "user", "metadata"}
    assert {f.name for f in fields(ChatRequest)} == in_key | answer_neutral
