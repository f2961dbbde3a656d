"""Emulated token log-probabilities, in OpenAI's ``choices[].logprobs.content`` shape.

Asked for with ``logprobs: true`` (and ``top_logprobs: k``, 0-20, for alternatives). The answer is
cut into tokens (a word with its leading space, or a run of punctuation), and each token gets a
log-probability drawn deterministically from the model, the answer text and the token's position:
the same request always gets the same values, streamed or not. Each answer has its own confidence
level, so values vary between answers as real ones do; they are **emulated** and say nothing about
whether the answer is right (a cascade's log-probability check can be exercised with them, not
evaluated).
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

MAX_TOP_LOGPROBS = 20
_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]+|\s+")
# Alternatives offered in top_logprobs (each below the chosen token's probability).
_ALTERNATIVES = (" the", " a", " and", " of", " to", " is", " in", ".", ",", " it", " that", " for")


def _unit(*parts: str | int) -> float:
    """A deterministic number in [0, 1) from ``parts``."""
    digest = hashlib.blake2b("\x00".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def tokens_of(text: str) -> list[str]:
    """The answer's emulated tokens; joined they give ``text`` back."""
    return _TOKEN.findall(text)


def token_logprobs(model: str, text: str, top: int) -> list[dict[str, Any]]:
    """One ``{"token", "logprob", "bytes", "top_logprobs"}`` entry per token of ``text``."""
    confidence = 0.55 + 0.44 * _unit(model, text)  # this answer's typical token probability
    entries = []
    for i, token in enumerate(tokens_of(text)):
        # Mostly near the answer's confidence; now and then a much less certain token.
        u = _unit(model, text, i)
        p = confidence * (1.0 - 0.9 * u**6) if u < 0.97 else 0.05 + 0.3 * u * (1 - confidence)
        logprob = round(math.log(max(p, 1e-6)), 5)
        # The chosen token is the most likely (as at temperature 0); alternatives share what is left,
        # each below the one before, so the list comes sorted as the API sorts it.
        alternatives = []
        rest, ceiling = 1.0 - p, p
        for j in range(top - 1):
            share = min(rest * (0.25 + 0.2 * _unit(model, text, i, j)), ceiling * 0.9)
            rest, ceiling = rest - share, share
            alt = _ALTERNATIVES[(i + j) % len(_ALTERNATIVES)]
            alternatives.append({"token": alt, "logprob": round(math.log(max(share, 1e-9)), 5), "bytes": _bytes(alt)})
        entry: dict[str, Any] = {"token": token, "logprob": logprob, "bytes": _bytes(token)}
        entry["top_logprobs"] = [{"token": token, "logprob": logprob, "bytes": _bytes(token)}, *alternatives][:top]
        entries.append(entry)
    return entries


def _bytes(token: str) -> list[int]:
    return list(token.encode())


class LogprobCursor:
    """Hands out a streamed answer's entries piece by piece: those of the tokens each piece completes."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self._entries = entries
        self._ends: list[int] = []
        end = 0
        for entry in entries:
            end += len(entry["token"])
            self._ends.append(end)
        self._sent_chars = 0
        self._next = 0

    def advance(self, piece: str) -> list[dict[str, Any]]:
        self._sent_chars += len(piece)
        start = self._next
        while self._next < len(self._ends) and self._ends[self._next] <= self._sent_chars:
            self._next += 1
        return self._entries[start : self._next]

    def rest(self) -> list[dict[str, Any]]:
        start, self._next = self._next, len(self._entries)
        return self._entries[start:]
