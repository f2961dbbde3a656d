"""Profiles, user overrides, and the small pure pieces (limits, latency, answers)."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides, load_profiles
from inferopt.emulator.answers import AnswerSource
from inferopt.emulator.latency import LatencyPlan, plan_latency, split_text, stream_schedule
from inferopt.emulator.limits import RateLimiter, duration_text
from inferopt.emulator.replay import ReplayIndex
from inferopt.errors import ConfigError

TENANT = b"tenant"


def test_shipped_profiles_cover_current_and_routerbench_models() -> None:
    table = load_profiles()
    for name in (
        "gpt-4o",
        "gpt-5-nano",
        "o4-mini",
        "claude-opus-4-5",
        "claude-sonnet-4-6",
        "claude-v1",
        "gpt-4-1106-preview",
        "mistralai/mixtral-8x7b-chat",
        "zero-one-ai/Yi-34B-Chat",
    ):
        assert table.get(name) is not None, name
    gpt41 = table.get("gpt-4.1")
    assert gpt41 is not None and gpt41.context_window == 1_047_576 and gpt41.provider == "openai"
    opus = table.get("claude-opus-4-5")
    assert opus is not None and opus.min_cacheable_tokens == 4096 and opus.provider == "anthropic"
    mixtral = table.get("mistralai/mixtral-8x7b-chat")
    assert mixtral is not None and mixtral.provider == "openai"


def test_user_file_merges_per_field_adds_models_and_a_wildcard(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(
        "models:\n"
        "  gpt-4o: {ttft_s: 0.05, rpm: 500}\n"
        "  my-finetune: {provider: openai, context_window: 8000}\n"
        "  '*': {provider: anthropic, ttft_s: 0.01}\n"
    )
    table = load_profiles(path, ProfileOverrides(tokens_per_s=999))
    gpt4o = table.lookup("gpt-4o", "openai")
    assert gpt4o is not None and (gpt4o.ttft_s, gpt4o.rpm, gpt4o.context_window) == (0.05, 500, 128_000)
    assert gpt4o.tokens_per_s == 999
    custom = table.lookup("my-finetune", "openai")
    assert custom is not None and custom.context_window == 8000
    anything = table.lookup("some-new-model", "openai")
    assert anything is not None and anything.name == "some-new-model" and anything.ttft_s == 0.01


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ({"gpt-4o": {"ttft": 1}}, "gpt-4o.ttft"),
        ({"new-model": {"ttft_s": 1}}, "new-model.provider"),
        ({"gpt-4o": {"rpm": -5}}, "gpt-4o.rpm"),
        ({"gpt-4o": {"jitter": 3}}, "gpt-4o.jitter"),
    ],
)
def test_bad_profile_files_name_the_file_and_key(tmp_path: Path, content: object, key: str) -> None:
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"models": content}))
    with pytest.raises(ConfigError) as caught:
        load_profiles(path)
    assert str(path) in str(caught.value) and key in str(caught.value)


def test_unknown_model_is_served_by_a_wildcard_profile(tmp_path: Path) -> None:
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"*": {"provider": "openai", "ttft_s": 0.0, "tokens_per_s": 10_000}}))
    with (
        EmulatorServer(EmulatorConfig(profiles_file=path)) as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client,
    ):
        completion = client.chat.completions.create(model="local/llama", messages=[{"role": "user", "content": "hi"}])
    assert completion.model == "local/llama" and completion.choices[0].message.content


def test_token_buckets_refill_continuously() -> None:
    limiter = RateLimiter()
    assert limiter.check(TENANT, "m", 60, None, 10, now=0.0).allowed
    for _ in range(59):
        limiter.check(TENANT, "m", 60, None, 10, now=0.0)
    refused = limiter.check(TENANT, "m", 60, None, 10, now=0.0)
    assert not refused.allowed and refused.exceeded == "requests" and refused.retry_after_s == pytest.approx(1.0)
    assert limiter.check(TENANT, "m", 60, None, 10, now=1.0).allowed
    assert limiter.check(b"other", "m", 60, None, 10, now=1.0).allowed


def test_openai_reset_durations_read_like_openais() -> None:
    assert [duration_text(s) for s in (0.012, 1.0, 17.28, 360.0)] == ["12ms", "1s", "17.28s", "6m0s"]


def test_latency_plan_and_stream_schedule() -> None:
    profile = load_profiles().get("gpt-4o")
    assert profile is not None
    plan = plan_latency(profile, 90, u=0.5)  # u = 0.5: no jitter
    assert plan == LatencyPlan(profile.ttft_s, profile.ttft_s + 90 / profile.tokens_per_s)
    schedule = stream_schedule("one two three four five six seven eight nine ten " * 5, LatencyPlan(0.1, 0.3))
    assert schedule[0][0] == 0.1 and schedule[-1][0] == pytest.approx(0.3)
    assert "".join(piece for _, piece in schedule) == "one two three four five six seven eight nine ten " * 5
    assert split_text("", 5) == [] and split_text("word", 5) == ["word"]


def test_generated_answers_follow_the_request() -> None:
    source = AnswerSource(seed=1, replay=ReplayIndex())
    a = source.answer("gpt-4o", "hello", b"digest-1", None)
    assert a == source.answer("gpt-4o", "hello", b"digest-1", None)
    assert 20 <= a.output_tokens <= 260 and a.finish == "stop"
    capped = source.answer("gpt-4o", "hello", b"digest-1", 7)
    assert capped.output_tokens == 7 and capped.finish == "length" and a.text.startswith(capped.text)
