"""Quality scorers: how right an answer is, from 0 to 1 (None when it cannot be judged).

======================  ==============================================================
``exact``               the answer equals ``expected`` (trimmed, case-insensitive by default)
``contains``            ``expected`` (or each of a list) appears in the answer
``regex``               ``pattern`` (or ``expected`` as a pattern) matches the answer
``numeric``             the last number in the answer is within ``abs_tol``/``rel_tol`` of ``expected``
``json_schema``         the answer is JSON valid against ``schema`` (needs ``jsonschema``)
``python``              ``function: "module:name"`` or ``"path/file.py:name"``, called as
                        ``name(example, answer_text) -> float | bool``
``judge``               an LLM rates the answer (``model``, optional ``prompt``), parsed as 0..1
``recorded``            RouterBench: the recorded correctness of the model that served, valid only
                        when the answer is that model's recorded answer (a replayed answer)
======================  ==============================================================
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from inferopt.errors import ConfigError
from inferopt.tradeoff.dataset import Example
from inferopt.types import ChatResponse

Scorer = Callable[[Example, ChatResponse], Awaitable[float | None]]
JudgeCall = Callable[[str, str], Awaitable[str]]  # (model, prompt) -> answer text

_NUMBER = re.compile(r"-?\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?")
JUDGE_PROMPT = (
    "You are grading an answer. Question:\n{prompt}\n\nReference answer (may be empty):\n{expected}\n\n"
    "Answer to grade:\n{answer}\n\nReply with only a score from 0 to 10, where 10 is fully correct."
)


def _texts(expected: Any) -> list[str]:
    if expected is None:
        return []
    return [str(e) for e in expected] if isinstance(expected, list) else [str(expected)]


def _norm(text: str, case_sensitive: bool) -> str:
    text = " ".join(text.split())
    return text if case_sensitive else text.casefold()


def last_number(text: str, first: bool = False) -> float | None:
    """The last (or first) number written in ``text`` (answers usually end with the result), or None."""
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[0 if first else -1].replace(",", "").rstrip("."))
    except ValueError:
        return None


def _prompt_text(example: Example) -> str:
    if isinstance(example.prompt, str):
        return example.prompt
    return "\n".join(str(m.get("content", "")) for m in example.prompt)


def load_callable(spec: str) -> Callable[..., Any]:
    """``"package.module:function"`` or ``"path/to/file.py:function"``."""
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise ConfigError(f"scorer function {spec!r} must look like 'module:function' or 'file.py:function'")
    try:
        if target.endswith(".py"):
            location = importlib.util.spec_from_file_location(Path(target).stem, target)
            if location is None or location.loader is None:
                raise ImportError(target)
            module = importlib.util.module_from_spec(location)
            location.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
        function = getattr(module, name)
    except (ImportError, FileNotFoundError, AttributeError) as exc:
        raise ConfigError(f"cannot load scorer function {spec!r}: {exc}", key="scorer.function") from None
    if not callable(function):
        raise ConfigError(f"scorer function {spec!r} is not callable", key="scorer.function")
    return function  # type: ignore[no-any-return]


def make_scorer(options: Mapping[str, Any], judge: JudgeCall | None = None) -> Scorer:
    """The scorer ``options["kind"]`` names, configured by the other options (see the module docstring)."""
    kind = options.get("kind", "exact")
    case_sensitive = bool(options.get("case_sensitive", False))

    async def exact(example: Example, answer: ChatResponse) -> float | None:
        wanted = _texts(example.expected)
        if not wanted:
            return None
        return float(any(_norm(answer.content, case_sensitive) == _norm(w, case_sensitive) for w in wanted))

    async def contains(example: Example, answer: ChatResponse) -> float | None:
        wanted = _texts(example.expected)
        if not wanted:
            return None
        text = _norm(answer.content, case_sensitive)
        return float(all(_norm(w, case_sensitive) in text for w in wanted))

    async def regex(example: Example, answer: ChatResponse) -> float | None:
        pattern = options.get("pattern") or (example.expected if isinstance(example.expected, str) else None)
        if not pattern:
            return None
        flags = 0 if case_sensitive else re.IGNORECASE
        return float(re.search(pattern, answer.content, flags | re.DOTALL) is not None)

    async def numeric(example: Example, answer: ChatResponse) -> float | None:
        if example.expected is None:
            return None
        got = last_number(answer.content)
        if got is None:
            return 0.0
        abs_tol, rel_tol = float(options.get("abs_tol", 1e-6)), float(options.get("rel_tol", 0.0))
        return float(math.isclose(got, float(example.expected), abs_tol=abs_tol, rel_tol=rel_tol))

    async def recorded(example: Example, answer: ChatResponse) -> float | None:
        for model in (answer.model, answer.annotations.get("requested_model")):
            if model in example.labels and example.recorded.get(model, "").strip() == answer.content.strip():
                return example.labels[model]
        return None  # not a replayed answer: its correctness is unknown, not zero

    scorers: dict[str, Scorer] = {
        "exact": exact,
        "contains": contains,
        "regex": regex,
        "numeric": numeric,
        "recorded": recorded,
    }
    if kind in scorers:
        if kind == "regex" and options.get("pattern"):
            re.compile(options["pattern"])  # a bad pattern fails before any request is sent
        return scorers[kind]
    if kind == "json_schema":
        return _json_schema_scorer(options)
    if kind == "python":
        function = load_callable(str(options.get("function", "")))

        async def python(example: Example, answer: ChatResponse) -> float | None:
            result = function(example, answer.content)
            return None if result is None else float(result)

        return python
    if kind == "judge":
        return _judge_scorer(options, judge)
    raise ConfigError(
        f"unknown scorer {kind!r}; use one of exact, contains, regex, numeric, json_schema, python, judge, recorded",
        key="scorer.kind",
    )


def _json_schema_scorer(options: Mapping[str, Any]) -> Scorer:
    try:
        jsonschema = importlib.import_module("jsonschema")  # optional (the eval extra); untyped
    except ImportError:
        raise ConfigError("the json_schema scorer needs jsonschema: pip install 'inferopt[eval]'") from None
    schema = options.get("schema")
    if not isinstance(schema, dict):
        raise ConfigError("the json_schema scorer needs a 'schema' mapping", key="scorer.schema")
    validator = jsonschema.Draft202012Validator(schema)

    async def json_schema(example: Example, answer: ChatResponse) -> float | None:
        text = answer.content.strip()
        if text.startswith("```"):  # models often fence JSON; the content is what counts
            text = text.strip("`").removeprefix("json").strip()
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return 0.0
        return float(validator.is_valid(data))

    return json_schema


def _judge_scorer(options: Mapping[str, Any], judge: JudgeCall | None) -> Scorer:
    model = options.get("model")
    if not model:
        raise ConfigError("the judge scorer needs 'model' (the model that grades)", key="scorer.model")
    if judge is None:
        raise ConfigError("the judge scorer needs a client to call the judge model")
    template = str(options.get("prompt", JUDGE_PROMPT))

    async def judged(example: Example, answer: ChatResponse) -> float | None:
        prompt = template.format(prompt=_prompt_text(example), expected=example.expected or "", answer=answer.content)
        verdict = await judge(str(model), prompt)
        score = last_number(verdict, first=True)  # "8/10": the score comes first
        if score is None:
            return None
        return max(0.0, min(1.0, score / 10.0 if score > 1 else score))

    return judged
