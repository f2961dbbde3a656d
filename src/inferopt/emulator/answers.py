"""What the emulator answers: a recorded answer from a replay dataset, or generated text.

A prompt that asks for one of the labels it lists ("... as positive, negative or neutral") gets one
of them (:mod:`inferopt.emulator.choices`) instead of filler.

Generated text is a pure function of (seed, model, prompt digest, token budget): readable
filler sentences of common English words whose length in tokens is drawn from the seed (or
capped by ``max_tokens``). Responses are marked as emulated by headers, not by the text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

from inferopt.emulator import token_runs
from inferopt.emulator.choices import offered_labels
from inferopt.emulator.replay import ReplayIndex
from inferopt.errors import ConfigError

FinishKind = Literal["stop", "length", "stop_sequence", "tool_calls"]

# 256 frequent English words, so one byte of a hash picks one. In cl100k and o200k each is a single
# token with its leading space (capitalised or not) and capitalised without it (an answer's first
# word); tiktoken's pre-tokenizer splits "." from a word, so a generated answer has exactly
# (words + full stops) tokens and needs no encoding pass to be counted.
_WORD_TEXT = (
    "the of and to in is was for that on as with by it at from this be are or an have not which but had "
    "they you were their one all we can her has there been if more when will would who so no she other "
    "its time only new some could these two may first then do any like my now over such our man me even "
    "most made after also did many off before must well back through years where much your way down "
    "should because each just those people how too little state good very make world still own see men "
    "work long here get both between life being under never day same another know while last us great old "
    "year come since against go right used take three small large next early young important few public "
    "bad about above across add age air almost along already always among answer area ask away base "
    "become begin behind best better big black blue body book bring build built call car care case cause "
    "center change child children city clear close cold color common complete country course cut dark "
    "deep different direction does done door draw during earth ease east eat end enough ever every "
    "example eye face fact fall family far farm fast father feel field find fine fire fish five follow "
    "food foot form found four free friend front full game give given glass gold government green ground "
    "group grow half hand hard head heart heat help high hold home hot"
)
_WORDS = tuple(_WORD_TEXT.split())
_CAPITALISED = tuple(w.capitalize() for w in _WORDS)
_SPACED = tuple(" " + w for w in _WORDS)
_SPACED_CAPITALISED = tuple(" " + w for w in _CAPITALISED)
assert len(_WORDS) == 256


@dataclass(frozen=True, slots=True)
class Answer:
    """The text of one answer and why it ended.

    ``finish`` is ``"stop"`` (natural end), ``"length"`` (cut at ``max_tokens``) or
    ``"stop_sequence"`` (cut before ``stop_sequence``). ``replay_correct`` is the recorded 0/1
    label of a replayed answer, when the dataset has one.
    """

    text: str
    output_tokens: int
    finish: FinishKind
    stop_sequence: str | None = None
    replayed: bool = False
    replay_correct: int | None = None
    tool_calls: tuple[dict[str, Any], ...] | None = None  # OpenAI-shaped calls (see tool_answers.py)
    thinking: tuple[str, str] | None = None  # (text, signature) of the thought before it (thinking.py)


class AnswerSource:
    """Chooses and shapes the answer for a request."""

    def __init__(self, seed: int, replay: ReplayIndex, length_range: tuple[int, int] = (20, 200)) -> None:
        lo, hi = length_range
        if not 1 <= lo <= hi:
            raise ConfigError(f"must satisfy 1 <= low <= high (got {length_range})", key="answer_tokens")
        self._seed = seed
        self._replay = replay
        self._range = (lo, hi)

    def answer(
        self,
        model: str,
        last_user_text: str,
        prompt_digest: bytes,
        max_tokens: int | None,
        stop: tuple[str, ...] = (),
    ) -> Answer:
        """The replayed answer when the prompt and model are recorded, else generated text."""
        recorded = self._replay.lookup(last_user_text, model) if last_user_text else None
        if recorded is not None:
            return _shaped(recorded.text, model, max_tokens, stop, True, recorded.correct)
        labels = offered_labels(last_user_text) if last_user_text else ()
        if labels:  # "classify as positive, negative or neutral": one of them (see choices.py)
            label = labels[_seed_bytes(self._seed, model, prompt_digest, b"label") % len(labels)]
            return _shaped(label, model, max_tokens, stop, False, None)
        pieces = self._generated(model, prompt_digest, max_tokens)
        if stop or not token_runs.exact_for_single_token_words(model):
            return _shaped("".join(pieces), model, max_tokens, stop, False, None)
        # Each piece is exactly one token (see _WORD_TEXT), so no encoding pass is needed here.
        n = len(pieces) if max_tokens is None else min(len(pieces), max_tokens)
        return Answer("".join(pieces[:n]), n, "length" if n < len(pieces) else "stop")

    def _generated(self, model: str, digest: bytes, max_tokens: int | None) -> tuple[str, ...]:
        lo, hi = self._range
        natural = lo + _seed_bytes(self._seed, model, digest, b"length") % (hi - lo + 1)
        # Every word is at least one token, so max_tokens + 1 words still overflow the budget and
        # the answer is cut to finish with "length", as a real model's does; no need for more.
        words = natural if max_tokens is None else min(natural, max_tokens + 1)
        return _generate_pieces(self._seed, model, digest, words)


def generate_text(seed: int, model: str, digest: bytes, n_words: int) -> str:
    """Deterministic filler text of ``n_words`` words in sentences of 6 to 14 words."""
    return "".join(_generate_pieces(seed, model, digest, n_words))


@lru_cache(maxsize=4096)
def _generate_pieces(seed: int, model: str, digest: bytes, n_words: int) -> tuple[str, ...]:
    """The answer as single-token pieces: words (with their leading space) and full stops."""
    if n_words <= 0:
        return ()
    # One hash call makes every choice: even bytes pick words, odd bytes set sentence lengths.
    # Interleaved, so a shorter answer is a prefix of a longer one (shake output is prefix-stable).
    h = hashlib.shake_128(seed.to_bytes(8, "little", signed=True) + model.encode() + b"\0" + digest)
    raw = h.digest(2 * n_words)
    picks, lengths = raw[0::2], raw[1::2]
    words = [_SPACED[b] for b in picks]
    words[0] = _CAPITALISED[picks[0]]
    pieces: list[str] = []
    start = 0
    for length_byte in lengths:  # one iteration per sentence, not per word
        end = min(start + 6 + length_byte % 9, n_words)  # sentences of 6 to 14 words
        pieces += words[start:end]
        pieces.append(".")
        if end == n_words:
            break
        words[end] = _SPACED_CAPITALISED[picks[end]]
        start = end
    return tuple(pieces)


def _shaped(
    text: str, model: str, max_tokens: int | None, stop: tuple[str, ...], replayed: bool, correct: int | None
) -> Answer:
    finish: FinishKind = "stop"
    matched: str | None = None
    for sequence in stop:
        # Each cut shortens the text, so a later match is always an earlier stop: first wins.
        at = text.find(sequence) if sequence else -1
        if at >= 0:
            text, matched, finish = text[:at], sequence, "stop_sequence"
    text, n, cut = token_runs.fit(text, max_tokens, model)
    if cut:
        finish, matched = "length", None
    return Answer(text, n, finish, matched, replayed, correct)


def _seed_bytes(seed: int, model: str, digest: bytes, purpose: bytes) -> int:
    h = hashlib.blake2b(digest, digest_size=8, person=purpose[:16].ljust(16, b"\0"))
    h.update(seed.to_bytes(8, "little", signed=True))
    h.update(model.encode())
    return int.from_bytes(h.digest(), "little")


def continued(answer: Answer, prefill: str, model: str, max_tokens: int | None = None) -> Answer:
    """A prefilled answer goes on from its prefill when it begins with it (else it answers afresh).

    ``answer`` is the whole answer (no budget); ``max_tokens`` bounds what follows the prefill, as the
    providers count it.
    """
    if answer.tool_calls:
        return answer
    text = answer.text[len(prefill) :] if answer.text.startswith(prefill) else answer.text
    text, n, cut = token_runs.fit(text, max_tokens, model)
    return replace(answer, text=text, output_tokens=max(1, n), finish="length" if cut else answer.finish)
