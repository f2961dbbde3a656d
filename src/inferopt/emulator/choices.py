"""Prompts that ask for one of a few labels get one of those labels from the emulator.

"Classify the sentiment of this review as positive, negative or neutral: ..." is the classic batch
job; answering it with filler text makes an emulated run look broken. When the prompt offers its
labels in one of the plain forms people write, the emulator answers with one of them, chosen from
(seed, model, prompt) like the rest of an emulated answer, so runs stay repeatable. The prompt
must say it wants a label (classify, label, category, sentiment, answer/respond/reply with, choose,
pick, select, one of, only) and offer the labels as

- an "or" list after ``as|with|one of|either|from`` or a colon: ``a, b or c`` / ``a or b``;
- or a slash list: ``positive/negative/neutral``.

Labels are one to three words (quotes stripped); anything else keeps the generated text, so
"explain the difference between TCP and UDP" or "a story with dragons and knights" are untouched.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Lazy: the last label of "answer with yes or no is it blue" is "no", not "no is it".
_LABEL = r"[\"'`]?[A-Za-z][\w-]*(?: [A-Za-z][\w-]*){0,2}?[\"'`]?"
_WANTS_LABEL = re.compile(
    r"\b(?:classif\w*|label\w*|categor\w*|sentiment|(?:answer|respond|reply) with|choose|pick|select|one of|only)\b",
    re.IGNORECASE,
)
_LISTED = re.compile(
    rf"(?:\b(?:as|with|one of|either|from)\s*:?|:)\s+((?:{_LABEL}\s*,\s*)*{_LABEL},?\s+or\s+{_LABEL})(?=[\s.:;?!)]|$)",
    re.IGNORECASE,
)
_SLASHED = re.compile(r"(?<![\w/])([A-Za-z][\w-]*(?:/[A-Za-z][\w-]*)+)(?![\w/])")
_SPLIT = re.compile(r"\s*,\s*(?:or\s+)?|\s+or\s+", re.IGNORECASE)
_MAX_LABELS = 12
_EDGE = 1000  # instructions stand at the start or the end: a 200 kB context is not scanned whole


@lru_cache(maxsize=4096)
def offered_labels(prompt: str) -> tuple[str, ...]:
    """The labels a prompt asks to choose from, in its order (empty when it offers none)."""
    if len(prompt) > 2 * _EDGE:
        return offered_labels(prompt[:_EDGE]) or offered_labels(prompt[-_EDGE:])
    if not _WANTS_LABEL.search(prompt):
        return ()
    match = _LISTED.search(prompt)
    if match:
        labels = [label.strip("\"'` ") for label in _SPLIT.split(match.group(1))]
    else:
        slashed = _SLASHED.search(prompt)
        if slashed is None or "://" in prompt[max(0, slashed.start() - 8) : slashed.end()]:
            return ()
        labels = slashed.group(1).split("/")
        if slashed.group(1).lower() == "and/or":
            return ()
    unique = tuple(dict.fromkeys(label for label in labels if label))
    return unique if 2 <= len(unique) <= _MAX_LABELS else ()
