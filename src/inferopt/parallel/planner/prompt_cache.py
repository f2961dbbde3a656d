"""Prompt-cache reads in the prediction: what OpenAI's automatic prompt caching takes off a job.

OpenAI caches every prompt of at least 1,024 tokens; a later prompt sharing a prefix with it reads
the shared part in steps of 128 tokens after the first 1,024 (1,024, 1,152, ...), billed at the
cached-input price. A job's rows usually share a long head (the system prompt, the template's
fixed text), so from its second row on each reads that head from the cache. The estimate compares
each row with the row before it (messages equal up to one, then that one's common text prefix,
counted with the token counter); the first row of the job reads nothing.

Only the realtime and flex routes read the cache in the prediction: the emulator's batch lines
report no prompt-cache reads (docs/batch_api.md), and Anthropic caches only what ``cache_control``
marks.
"""

from __future__ import annotations

from functools import lru_cache

from inferopt.tokens import MESSAGE_OVERHEAD_TOKENS, count_tokens
from inferopt.types import Message

OPENAI_MIN_TOKENS = 1024
OPENAI_STEP_TOKENS = 128


@lru_cache(maxsize=4096)
def _tokens(text: str, model: str) -> int:
    return count_tokens(text, model)  # a job's shared heads repeat: count each once


def shared_prefix_tokens(a: list[Message], b: list[Message], model: str) -> int:
    """Tokens at the start of prompt ``b`` that are the same as the start of prompt ``a``."""
    tokens = 0
    for first, second in zip(a, b, strict=False):
        if first.role != second.role:
            break
        if first.text == second.text:
            tokens += MESSAGE_OVERHEAD_TOKENS + _tokens(first.text, model)
            continue
        common = _common_prefix(first.text, second.text)
        if common:  # the token at the cut may differ (a word cut in two): leave it out
            tokens += MESSAGE_OVERHEAD_TOKENS + max(0, _tokens(common, model) - 1)
        break
    return tokens


def _common_prefix(a: str, b: str) -> str:
    """The longest common prefix, by bisection over slices (each comparison runs in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return a[:low]


def cache_read_tokens(shared: int, prompt_tokens: int) -> int:
    """The tokens OpenAI bills as cached for a prompt sharing ``shared`` tokens with a cached one."""
    shared = min(shared, prompt_tokens)
    if shared < OPENAI_MIN_TOKENS:
        return 0
    return OPENAI_MIN_TOKENS + (shared - OPENAI_MIN_TOKENS) // OPENAI_STEP_TOKENS * OPENAI_STEP_TOKENS
