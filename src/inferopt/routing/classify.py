"""A fast built-in classifier of a prompt's task type and complexity (keywords and length; no network).

It is deliberately simple and cheap (microseconds): a rule router can replace it with any function
``(ChatRequest) -> Classification``, for example one that asks a cheap model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Task = Literal["classification", "extraction", "summarization", "translation", "reasoning", "creative", "code", "other"]
Complexity = Literal["low", "medium", "high"]
TASKS: tuple[Task, ...] = (
    "classification",
    "extraction",
    "summarization",
    "translation",
    "reasoning",
    "creative",
    "code",
    "other",
)
COMPLEXITIES: tuple[Complexity, ...] = ("low", "medium", "high")
TAIL_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Classification:
    task: Task
    complexity: Complexity


# Checked in order: the first task with a keyword (or marker) present wins (code before reasoning,
# since "write a function to compute..." is code). Words are matched as a set: one pass over the text.
_TASK_WORDS: tuple[tuple[Task, frozenset[str], tuple[str, ...]], ...] = (
    (
        "code",
        frozenset({"function", "python", "javascript", "sql", "code", "regex", "bug", "compile", "typescript", "java"}),
        ("```", "def ", "();"),
    ),
    ("translation", frozenset({"translate", "translation", "translating"}), ()),
    ("summarization", frozenset({"summarize", "summarise", "summary", "summarization", "tldr", "tl"}), ()),
    ("extraction", frozenset({"extract", "extraction", "parse", "json"}), ()),
    ("classification", frozenset({"classify", "classification", "categorize", "categorise", "sentiment", "spam"}), ()),
    ("creative", frozenset({"poem", "story", "haiku", "lyrics", "slogan", "joke", "essay", "creative"}), ()),
    (
        "reasoning",
        frozenset({"prove", "why", "calculate", "solve", "explain", "compute", "answer", "reason", "derive"}),
        ("a) ", "step by step", "how many"),
    ),
)
_HARD_WORDS = frozenset(
    {"prove", "derive", "optimize", "optimise", "complexity", "rigorous", "theorem", "concurrency", "concurrent"}
)
_HARD_PHRASES = ("step by step", "multi-step", "edge cases")
_WORD = re.compile(r"[a-z0-9]+")


def classify(text: str) -> Classification:
    """Task type by keywords; complexity from length, hard-problem words and task type."""
    words = text.count(" ") + 1
    text = text[-TAIL_CHARS:].lower()  # the request itself comes last in few-shot prompts; bounds the time
    vocabulary = set(_WORD.findall(text))
    task: Task = "other"
    for candidate, keywords, markers in _TASK_WORDS:
        if not vocabulary.isdisjoint(keywords) or any(m in text for m in markers):
            task = candidate
            break
    hard = not vocabulary.isdisjoint(_HARD_WORDS) or any(p in text for p in _HARD_PHRASES)
    points = (words > 150) + (words > 600) + hard + (task in ("reasoning", "code"))
    complexity: Complexity = "low" if points == 0 else "medium" if points <= 1 else "high"
    return Classification(task, complexity)
