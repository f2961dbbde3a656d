"""Pair features for the verifier: what the embedding's cosine blurs, measured on the words.

Given two questions and the cosine of their embeddings: word, content-word, stem, bigram and
character-trigram overlap; an IDF-weighted cosine and how much *rare* content only one side has
(a differing rare word changes the question: "mechanical" / "electrical engineer"); edit-style
ratios over the word sequences; lengths; whether the first words and the question words
(what/why/how...) agree ("how" and "why" ask different things); numbers, negation and entities.
All symmetric in the two questions except where a side is named explicitly (lengths as min/max).
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections import Counter
from collections.abc import Hashable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from itertools import pairwise

from inferopt.cache.semantic import guards

QUESTION_WORDS = frozenset(["what", "why", "how", "when", "where", "who", "which", "whom", "whose"])
FEATURE_NAMES = (
    "cosine",
    "word_jaccard",
    "content_jaccard",
    "stem_jaccard",
    "bigram_jaccard",
    "char3_cosine",
    "char3_jaccard",
    "idf_cosine",
    "unshared_idf_fraction",
    "unshared_idf_max",
    "unshared_min",
    "unshared_max",
    "shared_idf",
    "length_ratio",
    "word_count_difference",
    "word_count_min",
    "word_count_max",
    "sequence_ratio",
    "sorted_content_ratio",
    "same_first_word",
    "same_first_two_words",
    "same_last_word",
    "same_first_question_word",
    "question_word_jaccard",
    "question_word_missing",
    "same_numbers",
    "has_numbers",
    "same_negation",
    "entity_jaccard",
    "entities_unshared",
    "question_marks_differ",
)


def stem(word: str) -> str:
    """A crude suffix stripper: enough to match "install"/"installing", "model"/"models"."""
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _jaccard(a: AbstractSet[Hashable], b: AbstractSet[Hashable]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _char_trigrams(text: str) -> Counter[str]:
    padded = " " + re.sub(r"\s+", " ", text.lower()) + " "
    return Counter(padded[i : i + 3] for i in range(len(padded) - 2))


def _weighted_cosine(a: Counter[str], b: Counter[str], weight: dict[str, float] | None = None) -> float:
    def w(key: str) -> float:
        return 1.0 if weight is None else weight[key]

    dot = sum(count * b[key] * w(key) ** 2 for key, count in a.items() if key in b)
    norm_a = math.sqrt(sum((count * w(key)) ** 2 for key, count in a.items()))
    norm_b = math.sqrt(sum((count * w(key)) ** 2 for key, count in b.items()))
    return dot / (norm_a * norm_b) if norm_a and norm_b else 0.0


def idf_table(texts: Iterable[str]) -> dict[str, float]:
    """Inverse document frequency of stemmed content words over ``texts`` (the fitting questions)."""
    counts: Counter[str] = Counter()
    total = 0
    for text in texts:
        counts.update({stem(w) for w in guards.content_words(text)})
        total += 1
    return {word: math.log((total + 1) / (n + 1)) for word, n in counts.items()}


@dataclass(frozen=True, slots=True)
class _Side:
    """One question's half of every pair feature, computed once per text (memoised: a lookup pairs
    its question with five candidates, and stored questions come back lookup after lookup)."""

    tokens: tuple[str, ...]
    token_set: frozenset[str]
    content: tuple[str, ...]
    content_set: frozenset[str]
    sorted_content: tuple[str, ...]
    stems: frozenset[str]
    stem_counts: Counter[str]
    trigrams: Counter[str]
    trigram_set: frozenset[str]
    bigrams: frozenset[tuple[str, str]]
    questions: tuple[str, ...]
    question_set: frozenset[str]
    facts: guards.TextFacts


@functools.lru_cache(maxsize=1024)  # small: each side is a dozen objects the garbage collector walks
def _side(text: str) -> _Side:
    facts = guards.facts(text)
    tokens, content = facts.tokens, facts.content
    trigrams = _char_trigrams(text)
    questions = tuple(w for w in tokens if w in QUESTION_WORDS)
    return _Side(
        tokens,
        frozenset(tokens),
        content,
        frozenset(content),
        tuple(sorted(content)),
        frozenset(stem(w) for w in content),
        Counter(map(stem, content)),
        trigrams,
        frozenset(trigrams),
        frozenset(pairwise(tokens)),
        questions,
        frozenset(questions),
        facts,
    )


def pair_features(a: str, b: str, cosine: float, idf: dict[str, float], unseen_idf: float) -> list[float]:
    """The values of :data:`FEATURE_NAMES` for one pair (``unseen_idf``: the weight of a word not in ``idf``)."""
    sa, sb = _side(a), _side(b)
    tokens_a, tokens_b = sa.tokens, sb.tokens
    stems_a, stems_b = sa.stems, sb.stems
    questions_a, questions_b = sa.questions, sb.questions
    entities_a, entities_b = sa.facts.entities, sb.facts.entities

    def rarity(word: str) -> float:
        return idf.get(word, unseen_idf)

    # Sorted: float sums in a fixed order, so a feature (and a fitted tree) is the same in every
    # process whatever the string-hash seed.
    weights = {w: rarity(w) for w in sorted(stems_a | stems_b)}
    unshared = sorted(stems_a ^ stems_b)
    total_weight = sum(weights.values()) or 1.0
    values = [
        cosine,
        _jaccard(sa.token_set, sb.token_set),
        _jaccard(sa.content_set, sb.content_set),
        _jaccard(stems_a, stems_b),
        _jaccard(sa.bigrams, sb.bigrams),
        _weighted_cosine(sa.trigrams, sb.trigrams),
        _jaccard(sa.trigram_set, sb.trigram_set),
        _weighted_cosine(sa.stem_counts, sb.stem_counts, weights),
        sum(weights[w] for w in unshared) / total_weight,
        max((weights[w] for w in unshared), default=0.0),
        min(len(stems_a - stems_b), len(stems_b - stems_a)),
        max(len(stems_a - stems_b), len(stems_b - stems_a)),
        sum(weights[w] for w in sorted(stems_a & stems_b)),
        min(len(a), len(b)) / max(len(a), len(b), 1),
        abs(len(tokens_a) - len(tokens_b)),
        min(len(tokens_a), len(tokens_b)),
        max(len(tokens_a), len(tokens_b)),
        difflib.SequenceMatcher(None, tokens_a, tokens_b, autojunk=False).ratio(),
        difflib.SequenceMatcher(None, sa.sorted_content, sb.sorted_content, autojunk=False).ratio(),
        tokens_a[:1] == tokens_b[:1],
        tokens_a[:2] == tokens_b[:2],
        tokens_a[-1:] == tokens_b[-1:],
        questions_a[:1] == questions_b[:1],
        _jaccard(sa.question_set, sb.question_set),
        not questions_a or not questions_b,
        sa.facts.numbers == sb.facts.numbers,
        bool(sa.facts.numbers) or bool(sb.facts.numbers),
        sa.facts.negated == sb.facts.negated,
        _jaccard(entities_a, entities_b),
        len(entities_a ^ entities_b),
        a.count("?") != b.count("?"),
    ]
    return [float(v) for v in values]
