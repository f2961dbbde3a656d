"""A cascade whose first stage is judged by its answer's token log-probabilities, over the emulator."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from inferopt import AsyncClient
from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

QUESTIONS = [f"Question {i}: name one thing about the number {i * 7}." for i in range(12)]


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=2, overrides=ProfileOverrides(fixed_latency_s=0.0))) as running:
        yield running


def config(emulator: EmulatorServer, first: str, threshold: float) -> dict[str, object]:
    return {
        "providers": {
            "oai": {"kind": "openai", "base_url": emulator.openai_base_url, "api_key_env": "EMU_KEY"},
            "ant": {"kind": "anthropic", "base_url": emulator.anthropic_base_url, "api_key_env": "EMU_KEY"},
        },
        "models": {
            "mini": {"provider": "oai", "model": "gpt-4o-mini"},
            "haiku": {"provider": "ant", "model": "claude-haiku-4-5"},
            "big": {"provider": "oai", "model": "gpt-4o"},
        },
        "routers": {
            "confident": {
                "kind": "cascade",
                "stages": [{"model": first, "check": {"logprob": {}}, "threshold": threshold}, {"model": "big"}],
            }
        },
        "default_model": "router/confident",
    }


async def test_the_cheap_answer_is_kept_exactly_when_its_token_confidence_passes(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMU_KEY", "sk-emu")
    async with AsyncClient(parse_config(config(emulator, "mini", 0.0))) as client:
        asked_alone = [
            await client.complete(q, model="mini", max_tokens=30, extra={"logprobs": True}) for q in QUESTIONS
        ]
    confidences = [math.exp(sum(a.annotations["logprobs"]) / len(a.annotations["logprobs"])) for a in asked_alone]
    threshold = sorted(confidences)[len(confidences) // 2]  # half pass, half escalate
    async with AsyncClient(parse_config(config(emulator, "mini", threshold))) as client:
        routed = [await client.complete(q, max_tokens=30) for q in QUESTIONS]
    for alone, confidence, answer in zip(asked_alone, confidences, routed, strict=True):
        route = answer.route
        first = route["attempts"][0]
        assert first["score"] == pytest.approx(confidence)  # the check read the model's own log-probs
        if confidence >= threshold:
            assert route["chosen"] == "mini" and answer.content == alone.content
        else:
            assert route["chosen"] == "big" and len(route["attempts"]) == 2
    assert {a.route["chosen"] for a in routed} == {"mini", "big"}


async def test_a_stage_without_log_probabilities_escalates(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMU_KEY", "sk-emu")
    async with AsyncClient(parse_config(config(emulator, "haiku", 0.1))) as client:
        answer = await client.complete(QUESTIONS[0], max_tokens=20)
    route = answer.route
    assert route["attempts"][0]["score"] == 0.0  # Anthropic's API returns no log-probs: nothing to trust
    assert route["chosen"] == "big"
