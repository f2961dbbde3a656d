"""Each quality scorer on answers a user would call right or wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferopt.errors import ConfigError
from inferopt.tradeoff.dataset import Example, load_dataset
from inferopt.tradeoff.scorers import make_scorer
from inferopt.types import ChatResponse, Usage


def answer(text: str, model: str = "m") -> ChatResponse:
    return ChatResponse(id="1", model=model, content=text, usage=Usage())


async def score(options: dict[str, object], expected: object, text: str, **kwargs: object) -> float | None:
    scorer = make_scorer(options, **kwargs)  # type: ignore[arg-type]
    return await scorer(Example("1", "What is it?", expected=expected), answer(text))


async def test_exact_contains_regex() -> None:
    assert await score({"kind": "exact"}, "Paris", "  paris ") == 1.0
    assert await score({"kind": "exact", "case_sensitive": True}, "Paris", "paris") == 0.0
    assert await score({"kind": "exact"}, ["Paris", "paris, France"], "Paris,  France") == 1.0
    assert await score({"kind": "contains"}, "carbon dioxide", "It is Carbon Dioxide.") == 1.0
    assert await score({"kind": "contains"}, ["a)", "oxygen"], "B) carbon dioxide") == 0.0
    assert await score({"kind": "regex", "pattern": r"\bB\)"}, None, "Answer: B) CO2") == 1.0
    assert await score({"kind": "exact"}, None, "anything") is None  # nothing to compare with: unscored


async def test_numeric_tolerance_reads_the_last_number() -> None:
    assert await score({"kind": "numeric"}, 144, "12 x 12 = 144") == 1.0
    assert await score({"kind": "numeric", "rel_tol": 0.01}, 1000, "about 1,005.") == 1.0
    assert await score({"kind": "numeric"}, 144, "12 x 12 = 124") == 0.0
    assert await score({"kind": "numeric"}, 144, "no idea") == 0.0


async def test_json_schema_validity() -> None:
    pytest.importorskip("jsonschema", reason="the json_schema scorer needs the eval extra")
    schema = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
    options = {"kind": "json_schema", "schema": schema}
    assert await score(options, None, '```json\n{"city": "Paris"}\n```') == 1.0
    assert await score(options, None, '{"town": "Paris"}') == 0.0
    assert await score(options, None, "Paris") == 0.0


async def test_python_callable_from_a_file(tmp_path: Path) -> None:
    module = tmp_path / "my_scorer.py"
    module.write_text("def score(example, text):\n    return len(text) <= 5\n", encoding="utf-8")
    assert await score({"kind": "python", "function": f"{module}:score"}, None, "short") == 1.0
    assert await score({"kind": "python", "function": f"{module}:score"}, None, "much too long") == 0.0
    with pytest.raises(ConfigError, match="cannot load scorer function"):
        make_scorer({"kind": "python", "function": f"{module}:missing"})


async def test_llm_judge_parses_the_grade() -> None:
    prompts: list[tuple[str, str]] = []

    async def judge(model: str, prompt: str) -> str:
        prompts.append((model, prompt))
        return "8/10 - mostly right"

    assert await score({"kind": "judge", "model": "gpt-4o"}, "Paris", "Paris.", judge=judge) == 0.8
    assert prompts[0][0] == "gpt-4o" and "Paris." in prompts[0][1] and "What is it?" in prompts[0][1]
    with pytest.raises(ConfigError, match="needs 'model'"):
        make_scorer({"kind": "judge"}, judge)


async def test_recorded_scorer_trusts_only_replayed_answers() -> None:
    example = Example("1", "q", recorded={"gpt-4": "B) carbon dioxide"}, labels={"gpt-4": 1.0})
    scorer = make_scorer({"kind": "recorded"})
    assert await scorer(example, answer("B) carbon dioxide", model="gpt-4")) == 1.0
    assert await scorer(example, answer("generated text", model="gpt-4")) is None
    assert await scorer(example, answer("B) carbon dioxide", model="other")) is None


def test_unknown_scorer_and_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown scorer 'fuzzy'"):
        make_scorer({"kind": "fuzzy"})
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "a", "expected": "b", "topic": "x"}\n{"expected": "c"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2 has no 'prompt'"):
        load_dataset(data)
    (first,) = load_dataset(data, limit=1)
    assert (first.prompt, first.expected, first.meta) == ("a", "b", {"topic": "x"})
