"""Guards: cheap, explainable vetoes against the false hits embeddings are known for.

Sentence embeddings score "10 USD to EUR" / "10 EUR to USD" at 0.98-1.00 and "turn on" /
"turn off dark mode" at 0.93-0.96: similar words, opposite answers. A candidate is vetoed when:

- **numbers** differ (digits or number words, as multisets: "2 + 3" vs "2 + 4", "top 5" vs "top 10");
- **negation** differs (one says not/never/without/n't..., the other does not, counted by parity);
- **antonyms**: one side has a word whose antonym is on the other side only (on/off, buy/sell, ...);
- **swapped operands or entities**: the same content words in a different order ("USD to EUR" /
  "EUR to USD", "Paris to London"), since order carries direction;
- **different named entities**: each side names something (capitalised words, codes) the other
  does not ("capital of France" / "capital of Spain").

Follow-up questions are handled before this: entries only match within an identical conversation
context (see :func:`inferopt.cache.keys.context_key`).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]*|\d+(?:[.,]\d+)*")
NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
NEGATIONS = frozenset(
    [
        "not",
        "no",
        "never",
        "none",
        "nobody",
        "nothing",
        "nowhere",
        "neither",
        "nor",
        "without",
        "cannot",
        "cant",
        "dont",
        "doesnt",
        "didnt",
        "isnt",
        "arent",
        "wasnt",
        "werent",
        "wont",
        "wouldnt",
        "shouldnt",
        "couldnt",
        "hasnt",
        "havent",
        "hadnt",
    ]
)
_ANTONYM_PAIRS = (
    "on/off enable/disable enabled/disabled increase/decrease up/down open/close start/stop before/after "
    "buy/sell add/remove max/maximum min/minimum best/worst more/less most/least high/low higher/lower "
    "highest/lowest import/export win/lose true/false positive/negative above/below inside/outside "
    "male/female hot/cold lock/unlock allow/deny accept/reject include/exclude show/hide connect/disconnect "
    "upload/download push/pull encrypt/decrypt install/uninstall join/leave first/last cheap/expensive "
    "fast/slow easy/hard advantages/disadvantages pros/cons love/hate good/bad like/dislike right/left "
    "north/south east/west asc/desc ascending/descending long/short big/small large/small old/new "
    "old/young rich/poor legal/illegal possible/impossible safe/unsafe healthy/unhealthy "
    # Contrasts rather than strict antonyms: the answer for one side is wrong for the other.
    "gain/lose gain/loss raise/lower rise/fall give/receive given/received gave/received send/receive "
    "sent/received borrow/lend buyer/seller employer/employee parent/child teacher/student input/output "
    "client/server incoming/outgoing internal/external public/private online/offline wet/dry full/empty "
    "summer/winter spring/autumn morning/evening day/night men/women man/woman boy/girl heating/cooling"
)
ANTONYMS: dict[str, set[str]] = {}
for _pair in _ANTONYM_PAIRS.split():
    _a, _b = _pair.split("/")
    ANTONYMS.setdefault(_a, set()).add(_b)
    ANTONYMS.setdefault(_b, set()).add(_a)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "it",
        "its",
        "they",
        "them",
        "their",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "how",
        "why",
        "when",
        "where",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "of",
        "in",
        "to",
        "for",
        "with",
        "by",
        "at",
        "from",
        "as",
        "about",
        "into",
        "than",
        "then",
        "so",
        "if",
        "or",
        "and",
        "but",
        "this",
        "that",
        "these",
        "those",
        "there",
        "some",
        "any",
        "all",
        "much",
        "many",
        "get",
        "got",
        "have",
        "has",
        "had",
        "make",
        "best",
        "way",
        "ways",
        "good",
    ]
)


@functools.lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(t.lower().replace("'", "") for t in _TOKEN.findall(text))


def tokens(text: str) -> list[str]:
    """Lowercased words and numbers, apostrophes dropped. Memoised: a lookup asks the guards and the
    verifier's features about the same few questions dozens of times."""
    return list(_tokens(text))


@dataclass(frozen=True, slots=True)
class TextFacts:
    """What the guards and the verifier's features read off one question, computed once per text
    (memoised: a lookup compares the same question with five candidates, and a stored question
    comes back as a candidate lookup after lookup). Read-only: share, never mutate."""

    tokens: tuple[str, ...]
    token_set: frozenset[str]
    numbers: Counter[str]
    negated: bool
    content: tuple[str, ...]
    entities: frozenset[str]


@functools.lru_cache(maxsize=1024)
def facts(text: str) -> TextFacts:
    words = _tokens(text)
    found: Counter[str] = Counter()
    for token in words:
        if token[0].isdigit():
            found[token.replace(",", "")] += 1
        elif token in NUMBER_WORDS:
            found[str(NUMBER_WORDS[token])] += 1
    # tokens() drops apostrophes, so "don't" arrives as "dont", which NEGATIONS lists.
    negation = sum(1 for t in words if t in NEGATIONS) % 2 == 1
    content = tuple(t for t in words if t not in STOPWORDS and t not in NEGATIONS)
    return TextFacts(words, frozenset(words), found, negation, content, frozenset(_entities(text)))


def numbers(text: str) -> Counter[str]:
    return Counter(facts(text).numbers)


def negated(text: str) -> bool:
    return facts(text).negated


def content_words(text: str) -> list[str]:
    return list(facts(text).content)


def entities(text: str) -> set[str]:
    """Capitalised words not at a sentence start, and all-caps codes (USD, NYC, iOS)."""
    return set(facts(text).entities)


def _entities(text: str) -> set[str]:
    found = set()
    for match in re.finditer(r"\b([A-Z][A-Za-z0-9]*|[a-z]+[A-Z][A-Za-z]*)\b", text):
        start = match.start()
        before = text[:start].rstrip()
        sentence_start = not before or before[-1] in ".?!:\"'("
        word = match.group(1)
        if sentence_start and not word.isupper():
            continue
        if word.lower() in STOPWORDS or word == "I":
            continue
        found.add(word.lower())
    return found


def _antonym_clash(a: AbstractSet[str], b: AbstractSet[str]) -> bool:
    return any(word not in b and ANTONYMS[word] & (b - a) for word in a if word in ANTONYMS)


def guard_reason(question: str, candidate: str) -> str | None:
    """Why ``candidate``'s answer must not serve ``question`` (None: no guard objects)."""
    q, c = facts(question), facts(candidate)
    if q.numbers != c.numbers:
        return "numbers differ"
    if q.negated != c.negated:
        return "negation differs"
    if _antonym_clash(q.token_set, c.token_set):
        return "antonyms"
    if q.content != c.content and Counter(q.content) == Counter(c.content):
        return "same words in another order (swapped operands or entities)"
    if q.entities - c.entities and c.entities - q.entities:
        return "different named entities"
    order_q = [w for w in q.content if w in c.entities or w in c.numbers]
    order_c = [w for w in c.content if w in q.entities or w in q.numbers]
    if len(order_q) > 1 and order_q != order_c and Counter(order_q) == Counter(order_c):
        return "entities in another order"
    return None
