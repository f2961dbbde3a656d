"""Token counting.

Exact counts come from tiktoken (``o200k_base`` for current OpenAI models, ``cl100k_base`` for
older ones) when its encoding file is already on disk: in ``TIKTOKEN_CACHE_DIR`` (or tiktoken's
default cache folder). inferopt never lets tiktoken download a file.

Without the file, counts are a documented **estimate**: ``ceil(len(text) / 4)`` per text, the
rule of thumb OpenAI publishes for English (one token is about four characters). It is within
about 10-20% on English prose and worse on code or other scripts; it is used for budgeting and
limits, never presented as exact (``exact_counts_available()`` tells which applies).

Anthropic and Gemini do not publish their tokenizers; their counts here are the o200k_base
count, an approximation. Providers' own usage numbers always win for cost.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from inferopt.image_tokens import content_image_tokens
from inferopt.types import ChatRequest, Message

_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
# Per-message framing tokens of the chat format (role markers), as in OpenAI's cookbook.
MESSAGE_OVERHEAD_TOKENS = 3
REPLY_PRIMER_TOKENS = 3
CHARS_PER_TOKEN_ESTIMATE = 4


class _Encoding(Protocol):
    def encode(self, text: str, *, disallowed_special: Any = ...) -> list[int]: ...


def _encoding_file(name: str, cache_dir: str) -> Path:
    folder = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "data-gym-cache"
    return folder / hashlib.sha1(_BLOB.format(name).encode()).hexdigest()


@lru_cache(maxsize=8)
def _load(name: str, cache_dir: str) -> _Encoding | None:
    # cache_dir is part of the key: a changed TIKTOKEN_CACHE_DIR is looked up again.
    if not _encoding_file(name, cache_dir).is_file():
        return None
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        enc: _Encoding = tiktoken.get_encoding(name)
    except Exception:  # a corrupt file must not crash a request; fall back to the estimate
        return None
    # The Python copy of the ranks (26 MB for o200k_base) is only read to pickle an encoding that is
    # not in tiktoken's registry; this one is (it pickles by name), and the Rust core holds its own.
    if getattr(enc, "_mergeable_ranks", None) is not None:
        enc._mergeable_ranks = {}  # type: ignore[attr-defined]
    return enc


def encoding_name_for(model: str) -> str:
    """The tiktoken encoding for a model id: cl100k_base for GPT-3.5/GPT-4 (non-o) and the embedding
    models, else o200k_base."""
    m = model.lower().rsplit("/", 1)[-1]
    if m.startswith(("gpt-3.5", "gpt-35", "text-embedding")) or (
        m.startswith("gpt-4") and not m.startswith(("gpt-4o", "gpt-4.1"))
    ):
        return "cl100k_base"
    return "o200k_base"


@lru_cache(maxsize=512)
def _encoding_for_model(model: str, cache_dir: str) -> _Encoding | None:
    return _load(encoding_name_for(model), cache_dir)


def _encoding_for(model: str) -> _Encoding | None:
    # Hot path (every request's token estimate): one env lookup and a cached dict hit, no Path work.
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or ""
    return _encoding_for_model(model, cache_dir)


def exact_counts_available(model: str = "gpt-4o") -> bool:
    """True when token counts for ``model`` are exact (tiktoken file present), False if estimated."""
    return _encoding_for(model) is not None


def count_tokens(text: str, model: str = "gpt-4o") -> int:
    """Tokens in ``text`` for ``model``: exact with tiktoken files, else ceil(chars / 4)."""
    if not text:
        return 0
    enc = _encoding_for(model)
    if enc is None:
        return math.ceil(len(text) / CHARS_PER_TOKEN_ESTIMATE)
    return len(enc.encode(text, disallowed_special=()))


def count_message_tokens(messages: list[Message], model: str = "gpt-4o") -> int:
    """Prompt tokens of a chat: text of every message, its images, plus the chat format's framing tokens."""
    total = REPLY_PRIMER_TOKENS
    for m in messages:
        total += MESSAGE_OVERHEAD_TOKENS + count_tokens(m.text, model)
        if not isinstance(m.content, str):  # images, by their provider's rule (inferopt.image_tokens)
            total += content_image_tokens(m.content, model)
    return total


def count_request_tokens(request: ChatRequest, model: str | None = None) -> int:
    """Estimated prompt tokens of a request (messages and tool definitions)."""
    name = model or request.model
    total = count_message_tokens(request.messages, name)
    if request.tools:
        import json

        total += count_tokens(json.dumps(request.tools, separators=(",", ":")), name)
    return total
