"""Recorded answers from RouterBench-format datasets."""

from __future__ import annotations

import ast
import csv
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.emulator.replay import load_replay

FAST = ProfileOverrides(fixed_latency_s=0.0)
ARC_PROMPT = "Which gas do plants take in for photosynthesis? A) oxygen B) carbon dioxide"


@pytest.fixture
def replay_server(fixtures_dir: Path) -> Iterator[EmulatorServer]:
    config = EmulatorConfig(overrides=FAST, replay_paths=[fixtures_dir / "routerbench_mini.csv"])
    with EmulatorServer(config) as running:
        yield running


def test_recorded_answer_is_served_for_the_requested_model(replay_server: EmulatorServer) -> None:
    with openai.OpenAI(base_url=replay_server.openai_base_url, api_key="sk", max_retries=0) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="mistralai/mixtral-8x7b-chat", messages=[{"role": "user", "content": f"  {ARC_PROMPT}\n"}]
        )
        wrong = raw.parse()
        right = client.chat.completions.create(
            model="gpt-3.5-turbo-1106", messages=[{"role": "user", "content": ARC_PROMPT}]
        )
    assert wrong.choices[0].message.content == "A) oxygen"
    assert raw.headers["x-inferopt-replay"] == "true"
    assert raw.headers["x-inferopt-replay-correct"] == "0"
    assert right.choices[0].message.content == "B) carbon dioxide"
    assert replay_server.stats.replayed == 2


def test_anthropic_route_replays_claude_answers(replay_server: EmulatorServer) -> None:
    with anthropic.Anthropic(base_url=replay_server.anthropic_base_url, api_key="k", max_retries=0) as client:
        raw = client.messages.with_raw_response.create(
            model="claude-v2", max_tokens=100, messages=[{"role": "user", "content": ARC_PROMPT}]
        )
    assert raw.parse().content[0].text == "The answer is B) carbon dioxide."  # type: ignore[union-attr]
    assert raw.headers["x-inferopt-replay-correct"] == "1"


def test_multiline_answers_and_missing_labels(replay_server: EmulatorServer) -> None:
    prompt = "Write a function that returns the square of x."
    with openai.OpenAI(base_url=replay_server.openai_base_url, api_key="sk", max_retries=0) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-3.5-turbo-1106", messages=[{"role": "user", "content": prompt}]
        )
    assert raw.parse().choices[0].message.content == "def square(x):\n    return x * x"
    assert raw.headers["x-inferopt-replay-correct"] == "1"
    with anthropic.Anthropic(base_url=replay_server.anthropic_base_url, api_key="k", max_retries=0) as client:
        raw_claude = client.messages.with_raw_response.create(
            model="claude-v2", max_tokens=100, messages=[{"role": "user", "content": prompt}]
        )
    assert "x-inferopt-replay" not in raw_claude.headers  # no recorded claude-v2 answer: generated text


def test_replayed_answer_is_cut_at_max_tokens(replay_server: EmulatorServer) -> None:
    with openai.OpenAI(base_url=replay_server.openai_base_url, api_key="sk", max_retries=0) as client:
        completion = client.chat.completions.create(
            model="gpt-3.5-turbo-1106",
            max_tokens=2,
            messages=[{"role": "user", "content": ARC_PROMPT}],
        )
    assert completion.choices[0].finish_reason == "length"
    assert "B) carbon dioxide".startswith(completion.choices[0].message.content or "-")


def test_real_routerbench_answers_are_replayed(routerbench_dir: Path) -> None:
    csv.field_size_limit(10**9)
    with (routerbench_dir / "mbpp_train.csv").open(newline="", encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    prompt = "\n".join(ast.literal_eval(row["prompt"]))
    recorded = "\n".join(ast.literal_eval(row["gpt-4-1106-preview|model_response"]))
    label = str(int(float(row["gpt-4-1106-preview"])))
    assert len(load_replay([routerbench_dir])) > 2000

    with EmulatorServer(EmulatorConfig(overrides=FAST, replay_paths=[routerbench_dir])) as server:
        with openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0) as client:
            raw = client.chat.completions.with_raw_response.create(
                model="gpt-4-1106-preview", max_tokens=4096, messages=[{"role": "user", "content": prompt}]
            )
        with anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="k", max_retries=0) as claude:
            message = claude.messages.create(
                model="claude-v2", max_tokens=4096, messages=[{"role": "user", "content": prompt}]
            )
    assert raw.parse().choices[0].message.content == recorded
    assert raw.headers["x-inferopt-replay-correct"] == label
    assert message.content[0].text == "\n".join(ast.literal_eval(row["claude-v2|model_response"]))  # type: ignore[union-attr]
