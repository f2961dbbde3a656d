"""Prompt text as runs of tokens, for counting, prefix hashing and truncation.

A *run* is a piece of a prompt (one message, one content block, one tool definition) seen as a
sequence of tokens. With tiktoken's encoding file on disk the tokens are the real token ids;
without it they are the four-character pieces behind :mod:`inferopt.tokens`' documented
estimate (``ceil(chars / 4)``), so counts here always agree with ``count_tokens``.

Prompt caching needs the *identity* of a prefix at token positions (OpenAI caches in 128-token
steps, Anthropic at block ends): ``token_bytes(a, b)`` gives bytes that identify tokens
``a..b`` of a run, which :mod:`inferopt.emulator.prompt_cache` feeds to a running hash.
"""

from __future__ import annotations

import math
import os
from array import array
from collections import OrderedDict
from functools import lru_cache
from typing import Any, Protocol

from inferopt import tokens

CHARS_PER_TOKEN = tokens.CHARS_PER_TOKEN_ESTIMATE
FRAMING_TOKENS = tokens.MESSAGE_OVERHEAD_TOKENS


class TokenRun(Protocol):
    """A sequence of tokens that can say how long it is and which bytes identify a slice."""

    def __len__(self) -> int: ...

    def token_bytes(self, start: int, stop: int) -> bytes: ...


class _Encoder(Protocol):
    def encode(self, text: str, *, disallowed_special: Any = ...) -> list[int]: ...

    def decode(self, tokens: list[int]) -> str: ...


@lru_cache(maxsize=8)
def _tiktoken_encoding(name: str) -> _Encoder:
    import tiktoken

    enc: _Encoder = tiktoken.get_encoding(name)
    return enc


@lru_cache(maxsize=512)
def _encoder_cached(model: str, cache_dir_setting: str) -> _Encoder | None:
    del cache_dir_setting  # part of the cache key only: a changed setting is looked up again
    # Only when inferopt.tokens would count exactly: tiktoken must never download a file.
    if not tokens.exact_counts_available(model):
        return None
    return _tiktoken_encoding(tokens.encoding_name_for(model))


def _encoder_for(model: str) -> _Encoder | None:
    # Resolved once per model (the hot path pays a dict lookup, not a file-system check).
    setting = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or ""
    return _encoder_cached(model, setting)


class IdRun:
    """Real token ids from tiktoken (kept as 4-byte integers: long prompts are remembered)."""

    __slots__ = ("ids",)

    def __init__(self, ids: list[int]) -> None:
        self.ids = array("I", ids)

    def __len__(self) -> int:
        return len(self.ids)

    def token_bytes(self, start: int, stop: int) -> bytes:
        return self.ids[start:stop].tobytes()


class CharRun:
    """Estimated tokens: every four characters of the text count as one token."""

    __slots__ = ("_length", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._length = math.ceil(len(text) / CHARS_PER_TOKEN)

    def __len__(self) -> int:
        return self._length

    def token_bytes(self, start: int, stop: int) -> bytes:
        piece = self.text[start * CHARS_PER_TOKEN : stop * CHARS_PER_TOKEN]
        return piece.encode("utf-8", "surrogatepass")


class FramingRun:
    """The chat format's per-message role markers (three tokens, as in ``count_message_tokens``)."""

    __slots__ = ("_marker",)

    def __init__(self, role: str) -> None:
        # NUL bytes cannot occur in encoded token ids of text, so a marker never equals content.
        self._marker = f"\x00{role}\x00".encode().ljust(FRAMING_TOKENS * 4, b"\x00")

    def __len__(self) -> int:
        return FRAMING_TOKENS

    def token_bytes(self, start: int, stop: int) -> bytes:
        return self._marker[start * 4 : stop * 4]


class ImageRun:
    """An image in the prompt: as many tokens as its provider bills for it (:mod:`inferopt.image_tokens`),
    each standing for the image's digest and its position, so the same image is the same prefix."""

    __slots__ = ("_digest", "_length")

    def __init__(self, tokens: int, digest: bytes) -> None:
        self._length = tokens
        self._digest = digest

    def __len__(self) -> int:
        return self._length

    def token_bytes(self, start: int, stop: int) -> bytes:
        return b"".join(b"\x01" + self._digest[:3] + i.to_bytes(4, "little") for i in range(start, stop))


_FRAMING: dict[str, FramingRun] = {}


def framing(role: str) -> FramingRun:
    """The (shared, immutable) framing run of a role."""
    run = _FRAMING.get(role)
    if run is None:
        run = FramingRun(role)
        if len(_FRAMING) < 64:  # roles come from clients: remember the usual few, not every string
            _FRAMING[role] = run
    return run


def exact_for_single_token_words(model: str) -> bool:
    """True when ``model`` counts exactly with an encoding whose single-token words
    ``inferopt.emulator.answers`` was checked against (cl100k_base, o200k_base)."""
    return _encoder_for(model) is not None and tokens.encoding_name_for(model) in ("cl100k_base", "o200k_base")


class _LongTexts:
    """Token runs of long texts seen lately, up to a total number of tokens (oldest forgotten first).

    Load tests resend the same long system prompt or retrieved context with every request; encoding
    60,000 tokens costs about 10 ms, looking them up a few microseconds.
    """

    def __init__(self, max_tokens: int) -> None:
        self._runs: OrderedDict[tuple[int, str], IdRun] = OrderedDict()
        self._tokens = 0
        self._max = max_tokens

    def get(self, encoder: _Encoder, text: str) -> IdRun:
        key = (id(encoder), text)  # encoders live for the process (lru_cache), so their id is stable
        run = self._runs.get(key)
        if run is not None:
            self._runs.move_to_end(key)
            return run
        run = IdRun(encoder.encode(text, disallowed_special=()))
        self._runs[key] = run
        self._tokens += len(run)
        while self._tokens > self._max and self._runs:
            self._tokens -= len(self._runs.popitem(last=False)[1])
        return run


LONG_TEXT_CHARS = 2048
_LONG_TEXTS = _LongTexts(max_tokens=4_000_000)  # at most ~16 MB of token ids


def tokenize(text: str, model: str) -> TokenRun:
    """The text as a run of tokens of ``model``: exact ids when possible, else the estimate."""
    encoder = _encoder_for(model)
    if encoder is None:
        return CharRun(text)
    if len(text) >= LONG_TEXT_CHARS:
        return _LONG_TEXTS.get(encoder, text)
    return IdRun(encoder.encode(text, disallowed_special=()))


def count(text: str, model: str) -> int:
    """Tokens in ``text``; the same number as :func:`inferopt.tokens.count_tokens`."""
    if not text:
        return 0
    encoder = _encoder_for(model)
    if encoder is None:
        return math.ceil(len(text) / CHARS_PER_TOKEN)
    return len(encoder.encode(text, disallowed_special=()))


def fit(text: str, max_tokens: int | None, model: str) -> tuple[str, int, bool]:
    """``text`` cut to at most ``max_tokens`` tokens: (text, its tokens, whether it was cut).

    One encoding pass, since every answer goes through here.
    """
    if not text:
        return text, 0, False
    encoder = _encoder_for(model)
    if encoder is None:
        n = math.ceil(len(text) / CHARS_PER_TOKEN)
        if max_tokens is None or n <= max_tokens:
            return text, n, False
        return text[: max_tokens * CHARS_PER_TOKEN], max_tokens, True
    ids = encoder.encode(text, disallowed_special=())
    if max_tokens is None or len(ids) <= max_tokens:
        return text, len(ids), False
    # A cut inside a multi-byte character decodes to U+FFFD; drop it rather than invent text.
    return encoder.decode(ids[:max_tokens]).rstrip("\ufffd"), max_tokens, True
