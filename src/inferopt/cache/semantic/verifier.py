"""A learned verifier: is candidate B's answer right for question A? A logistic regression over
pair features, fitted on labelled pairs (``inferopt cache calibrate``), in plain numpy.

Features: the cosine, the element-wise product and absolute difference of the two embeddings
(the classic sentence-pair representation, which lets the model weigh *which* dimensions must
agree), and lexical signals the embedding blurs: word and content-word overlap, length ratio, same
numbers, same negation, antonym clash, entity overlap, same question word.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferopt.cache.semantic import guards

Array = npt.NDArray[np.float64]
LEXICAL = (
    "word_jaccard",
    "content_jaccard",
    "length_ratio",
    "same_numbers",
    "same_negation",
    "antonyms",
    "entity_jaccard",
    "same_first_word",
    "same_order",
)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def lexical_features(a: str, b: str) -> list[float]:
    words_a, words_b = set(guards.tokens(a)), set(guards.tokens(b))
    content_a, content_b = guards.content_words(a), guards.content_words(b)
    ents_a, ents_b = guards.entities(a), guards.entities(b)
    first_a, first_b = guards.tokens(a)[:1], guards.tokens(b)[:1]
    return [
        _jaccard(words_a, words_b),
        _jaccard(set(content_a), set(content_b)),
        min(len(a), len(b)) / max(len(a), len(b), 1),
        float(guards.numbers(a) == guards.numbers(b)),
        float(guards.negated(a) == guards.negated(b)),
        float(guards.guard_reason(a, b) == "antonyms"),
        _jaccard(ents_a, ents_b),
        float(first_a == first_b),
        float(content_a == content_b),
    ]


def idf_table(texts: list[str]) -> dict[str, float]:
    """Inverse document frequency of content words over ``texts`` (the fitting questions)."""
    counts: dict[str, int] = {}
    for text in texts:
        for word in set(guards.content_words(text)):
            counts[word] = counts.get(word, 0) + 1
    return {word: math.log((len(texts) + 1) / (n + 1)) for word, n in counts.items()}


def rarity_features(a: str, b: str, idf: dict[str, float], unseen_idf: float) -> list[float]:
    """How much *rare* content the two questions do not share (a differing rare word changes the question)."""
    content_a, content_b = set(guards.content_words(a)), set(guards.content_words(b))
    only = (content_a - content_b) | (content_b - content_a)
    weight = sum(idf.get(w, unseen_idf) for w in content_a | content_b) or 1.0
    return [
        float(len(content_a - content_b)),
        float(len(content_b - content_a)),
        float(len(only)),
        max((idf.get(w, unseen_idf) for w in only), default=0.0),
        sum(idf.get(w, unseen_idf) for w in only) / weight,
        sum(idf.get(w, unseen_idf) for w in content_a & content_b) / weight,
    ]


def pair_features(
    a: str, b: str, va: npt.NDArray[np.float32], vb: npt.NDArray[np.float32], idf: dict[str, float] | None = None
) -> Array:
    cosine = float(va @ vb)
    idf = idf or {}
    unseen = max(idf.values(), default=0.0)
    rarity = rarity_features(a, b, idf, unseen)
    return np.concatenate([[cosine, cosine**2], lexical_features(a, b), rarity, va * vb, np.abs(va - vb)]).astype(
        np.float64
    )


@dataclass
class Verifier:
    """Standardised features -> logistic regression. ``score`` is a probability-like number in [0, 1]."""

    weights: Array
    bias: float
    mean: Array
    scale: Array
    embedder: str
    idf: dict[str, float]

    def score_features(self, features: Array) -> Array:
        z = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def score(self, a: str, b: str, va: npt.NDArray[np.float32], vb: npt.NDArray[np.float32]) -> float:
        return float(self.score_features(pair_features(a, b, va, vb, self.idf)[None, :])[0])

    def to_json(self) -> dict[str, Any]:
        return {
            "weights": self.weights.tolist(),
            "bias": self.bias,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "embedder": self.embedder,
            "idf": self.idf,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verifier:
        return cls(
            np.asarray(data["weights"]),
            float(data["bias"]),
            np.asarray(data["mean"]),
            np.asarray(data["scale"]),
            str(data["embedder"]),
            {str(k): float(v) for k, v in data.get("idf", {}).items()},
        )


def fit_verifier(
    features: Array,
    labels: npt.NDArray[np.int_],
    *,
    embedder: str,
    idf: dict[str, float] | None = None,
    l2: float = 0.1,
    epochs: int = 400,
    learning_rate: float = 0.05,
) -> Verifier:
    """Logistic regression with L2 by full-batch Adam: deterministic, seconds for 10k pairs."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    x = (features - mean) / scale
    y = labels.astype(np.float64)
    n, d = x.shape
    w = np.zeros(d)
    b = 0.0
    m_w, v_w, m_b, v_b = np.zeros(d), np.zeros(d), 0.0, 0.0
    beta1, beta2 = 0.9, 0.999
    for step in range(1, epochs + 1):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        grad_w = x.T @ (p - y) / n + l2 * w
        grad_b = float(np.mean(p - y))
        m_w = beta1 * m_w + (1 - beta1) * grad_w
        v_w = beta2 * v_w + (1 - beta2) * grad_w**2
        m_b = beta1 * m_b + (1 - beta1) * grad_b
        v_b = beta2 * v_b + (1 - beta2) * grad_b**2
        correction1, correction2 = 1 - beta1**step, 1 - beta2**step
        w -= learning_rate * (m_w / correction1) / (np.sqrt(v_w / correction2) + 1e-8)
        b -= learning_rate * (m_b / correction1) / (np.sqrt(v_b / correction2) + 1e-8)
    return Verifier(w, b, mean, scale, embedder, idf or {})


def save_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
