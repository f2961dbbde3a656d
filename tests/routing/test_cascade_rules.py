"""Cascade (checks, escalation, recorded path and cost) and the rule router with its classifier."""

from __future__ import annotations

import pytest

from inferopt.errors import ConfigError, ServerError
from inferopt.routing.cascade import Cascade, Stage
from inferopt.routing.checks import Agreement, Judge, LogprobConfidence, Verifier, short_answer
from inferopt.routing.classify import classify
from inferopt.routing.rules import RuleRouter
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest, ChatResponse, StreamDone, TextDelta, Usage


def priced(text: str, cost: float, logprobs: list[float] | None = None) -> FunctionModel:
    def answer(request: ChatRequest) -> ChatResponse:
        response = ChatResponse(id="x", model=request.model, content=text, usage=Usage(10, 2), cost_usd=cost)
        if logprobs is not None:
            response.annotations["logprobs"] = logprobs
        return response

    return FunctionModel(answer)


def request(text: str = "Which is bigger? A) 2 B) 3") -> ChatRequest:
    return ChatRequest.of(text, model="router/c")


async def test_agreeing_cheap_answers_are_accepted_without_calling_the_strong_model() -> None:
    models = {"cheap": priced("B", 0.001), "cheap2": priced("b)", 0.002), "strong": priced("B", 0.05)}
    cascade = Cascade([Stage("cheap", Agreement(["cheap2"]), threshold=1.0), Stage("strong")], models)
    response = await cascade.complete(request())
    route = response.route
    assert response.content == "B" and route["chosen"] == "cheap"
    assert [a["outcome"] for a in route["attempts"]] == ["accepted", "check"]
    assert response.cost_usd == pytest.approx(0.003)  # the answer and the check's call
    assert not models["strong"].calls


async def test_disagreement_escalates_and_every_attempt_is_charged() -> None:
    models = {"cheap": priced("A", 0.001), "cheap2": priced("B", 0.002), "strong": priced("B", 0.05)}
    cascade = Cascade([Stage("cheap", Agreement(["cheap2"]), threshold=1.0), Stage("strong")], models)
    response = await cascade.complete(request())
    route = response.route
    assert route["chosen"] == "strong"
    assert [(a["model"], a["outcome"]) for a in route["attempts"]] == [
        ("cheap", "rejected"),
        ("cheap2", "check"),
        ("strong", "accepted"),
    ]
    assert response.cost_usd == pytest.approx(0.053)


async def test_per_stage_thresholds_verifier_judge_and_logprob_checks() -> None:
    models = {
        "tiny": priced("not json", 0.0001),
        "small": priced('{"a": 1}', 0.001, logprobs=[-0.05, -0.1]),
        "judge": priced("9", 0.0002),
        "big": priced('{"a": 1}', 0.01),
    }
    cascade = Cascade(
        [
            Stage("tiny", Verifier(lambda req, text: text.startswith("{")), threshold=1.0),
            Stage("small", LogprobConfidence(), threshold=0.95),  # exp(-0.075) = 0.93: escalate
            Stage("small", Judge("judge"), threshold=0.8),  # the judge says 9/10: accept
            Stage("big"),
        ],
        models,
    )
    response = await cascade.complete(request("Give JSON"))
    route = response.route
    assert route["chosen"] == "small"
    assert [a["outcome"] for a in route["attempts"]] == ["rejected", "rejected", "accepted", "check"]
    assert route["attempts"][1]["score"] == pytest.approx(0.928, abs=1e-3)
    assert not models["big"].calls
    assert await LogprobConfidence()(request(), ChatResponse("i", "m", "x", Usage()), None) is not None  # type: ignore[arg-type]


async def test_a_failing_stage_escalates_and_the_last_failure_is_raised() -> None:
    def fail(request: ChatRequest) -> str:
        raise ServerError("boom", status=500)

    cascade = Cascade(
        [Stage("cheap", Verifier(lambda r, t: True)), Stage("strong")],
        {"cheap": FunctionModel(fail), "strong": priced("ok", 0.01)},
    )
    response = await cascade.complete(request())
    assert response.route["attempts"][0]["outcome"] == "error"
    assert response.cost_usd == pytest.approx(0.01)
    peer_down = Cascade(
        [Stage("cheap", Agreement(["peer"])), Stage("strong")],
        {"cheap": priced("A", 0.001), "peer": FunctionModel(fail), "strong": priced("B", 0.01)},
    )
    escalated = await peer_down.complete(request())
    assert escalated.content == "B"  # a check that cannot judge does not vouch for the cheap answer
    assert escalated.cost_usd == pytest.approx(0.011)
    broken = Cascade([Stage("strong")], {"strong": FunctionModel(fail)})
    with pytest.raises(ServerError):
        await broken.complete(request())


def test_cascade_config_mistakes_are_named() -> None:
    with pytest.raises(ConfigError, match="no check"):
        Cascade([Stage("a"), Stage("b")], {"a": priced("", 0), "b": priced("", 0)})
    with pytest.raises(ConfigError, match="no target"):
        Cascade([Stage("a")], {"b": priced("", 0)})


def test_short_answer_normalises_multiple_choice() -> None:
    assert short_answer(" B) 3") == short_answer("b") == "B"
    code = "def add(a, b):\n    return a + b  # adds two numbers"
    assert short_answer(code) == "def add(a, b): return a + b # adds two numbers"


@pytest.mark.parametrize(
    ("text", "task", "complexity"),
    [
        ("Write a python function that reverses a string", "code", "medium"),
        ("Translate 'good morning' into French", "translation", "low"),
        ("Summarize this paragraph in one sentence: the cat sat.", "summarization", "low"),
        ("Extract every email address from this text", "extraction", "low"),
        ("Classify the sentiment of: I love it", "classification", "low"),
        ("Write a haiku about autumn", "creative", "low"),
        ("Prove step by step that the sum of two even numbers is even", "reasoning", "high"),
    ],
)
def test_builtin_classifier(text: str, task: str, complexity: str) -> None:
    label = classify(text)
    assert (label.task, label.complexity) == (task, complexity)


async def test_rule_router_picks_the_most_specific_rule_and_streams_through() -> None:
    models = {"fast": FunctionModel(lambda r: "fast answer"), "smart": FunctionModel(lambda r: "smart answer")}
    router = RuleRouter({"reasoning/high": "smart", "*/low": "fast"}, models, default="fast")
    hard = await router.complete(ChatRequest.of("Prove step by step that 2+2=4", model="router/r"))
    assert hard.content == "smart answer"
    assert "reasoning/high" in hard.route["reason"]
    events = [e async for e in router.stream(ChatRequest.of("Write a haiku", model="router/r"))]
    assert any(isinstance(e, TextDelta) for e in events)
    done = events[-1]
    assert isinstance(done, StreamDone) and done.response.route["chosen"] == "fast"
    with pytest.raises(ConfigError, match="task/complexity"):
        RuleRouter({"poetry": "fast"}, models)
