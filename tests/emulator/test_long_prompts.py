"""Long prompts resent with every request (a system prompt, retrieved context) are encoded once."""

from __future__ import annotations

from typing import Any

from inferopt import tokens
from inferopt.emulator import token_runs
from inferopt.emulator.token_runs import _LongTexts


class CountingEncoder:
    """One token per character; counts how often it is asked to encode."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, text: str, *, disallowed_special: Any = ()) -> list[int]:
        self.calls += 1
        return [ord(c) for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(map(chr, ids))


def test_a_repeated_long_text_is_encoded_once_and_old_ones_are_forgotten_within_the_budget() -> None:
    encoder = CountingEncoder()
    remembered = _LongTexts(max_tokens=25)
    first = remembered.get(encoder, "a" * 10)
    assert remembered.get(encoder, "a" * 10) is first and encoder.calls == 1
    remembered.get(encoder, "b" * 10)
    remembered.get(encoder, "a" * 10)  # used again: now the most recent
    remembered.get(encoder, "c" * 10)  # 30 tokens > 25: the least recently used ("b") goes
    calls = encoder.calls
    assert remembered.get(encoder, "a" * 10) is first and encoder.calls == calls
    remembered.get(encoder, "b" * 10)
    assert encoder.calls == calls + 1
    assert first.token_bytes(0, 2) == bytes([97, 0, 0, 0, 97, 0, 0, 0])  # two 4-byte ids


def test_long_prompts_count_the_same_as_the_public_token_counter() -> None:
    text = " ".join(f"Section {i}: rule {i} applies unless noted." for i in range(400))
    assert len(text) >= token_runs.LONG_TEXT_CHARS
    for _ in range(2):  # encoded, then remembered: the same count both times
        assert len(token_runs.tokenize(text, "gpt-4o-mini")) == tokens.count_tokens(text, "gpt-4o-mini")
