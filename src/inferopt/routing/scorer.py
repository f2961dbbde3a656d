"""A learned answer scorer: the chance an answer is correct, trained on recorded (prompt, answer, correct) rows.

Logistic regression (numpy, full-batch gradient descent with L2) over hashed features of the
prompt's tail, of the answer (its own feature space), and of the answering model's name, so one
scorer serves every stage of a cascade. Saved as one ``.npz`` (no pickle); loading needs no network.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferopt.errors import InvalidArgumentError
from inferopt.routing.checks import CheckResult
from inferopt.routing.data import Outcomes
from inferopt.routing.features import hashed_counts
from inferopt.routing.features import require_numpy as _numpy
from inferopt.routing.learned import read_saved_file
from inferopt.routing.routed import Targets
from inferopt.types import ChatRequest, ChatResponse

DIMS = 1 << 14
FORMAT_VERSION = 2  # 2: word pairs hashed from their words' hashes (features.py)


def _features(prompt: str, answer: str, model: str, dims: int) -> dict[int, float]:
    out: dict[int, float] = {}
    half = dims // 2
    for column, value in hashed_counts(prompt, half, 500).items():
        out[column] = value
    for column, value in hashed_counts(answer, half // 2, 500).items():
        out[half + column] = value
    # Which model answered, and its answer's length, are strong priors on their own.
    model_column = half + half // 2 + hash_stable("model:" + model) % (half // 4)
    out[model_column] = 1.0
    length_column = half + half // 2 + half // 4 + min(int(math.log2(1 + len(answer))), half // 4 - 1)
    out[length_column] = 1.0
    return out


def hash_stable(text: str) -> int:
    return zlib.crc32(text.encode())


class AnswerScorer:
    """``score(prompt, answer, model)`` in [0, 1]. Build with :meth:`fit` or :meth:`load`."""

    def __init__(self, weights: Any, bias: float, dims: int = DIMS) -> None:
        self.weights = weights
        self.bias = bias
        self.dims = dims

    @classmethod
    def fit(
        cls, data: Outcomes, models: Sequence[str] | None = None, *, epochs: int = 300, l2: float = 1e-4
    ) -> AnswerScorer:
        """Train on every (row, model) of ``data`` (which must hold answers); split first."""
        np = _numpy()
        if not data.answers:
            raise InvalidArgumentError("the scorer trains on recorded answers: read the data with with_answers=True")
        columns = [data.models.index(m) for m in (models or data.models)]
        rows: list[dict[int, float]] = []
        labels: list[float] = []
        for i in range(len(data)):
            for j in columns:
                rows.append(_features(data.prompts[i], data.answers[i][j], data.models[j], DIMS))
                labels.append(data.correct[i][j])
        x = np.zeros((len(rows), DIMS), dtype=np.float32)
        for r, feats in enumerate(rows):
            x[r, list(feats)] = list(feats.values())
        y = np.asarray(labels, dtype=np.float32)
        w = np.zeros(DIMS, dtype=np.float32)
        b = float(math.log((y.mean() + 1e-6) / (1 - y.mean() + 1e-6)))
        rate = 0.5
        for _ in range(epochs):
            p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
            grad = p - y
            w -= rate * ((x.T @ grad) / len(y) + l2 * w)
            b -= rate * float(grad.mean())
        return cls(w, b)

    def score(self, prompt: str, answer: str, model: str) -> float:
        feats = _features(prompt, answer, model, self.dims)
        z = self.bias + sum(float(self.weights[c]) * v for c, v in feats.items())
        return 1.0 / (1.0 + math.exp(-z))

    def save(self, path: str | Path) -> None:
        np = _numpy()
        with Path(path).open("wb") as f:
            np.savez_compressed(
                f,
                weights=self.weights,
                meta=np.array(json.dumps({"bias": self.bias, "dims": self.dims, "version": FORMAT_VERSION})),
            )

    @classmethod
    def load(cls, path: str | Path) -> AnswerScorer:
        meta, arrays = read_saved_file(
            path, ["weights"], what="inferopt answer scorer", version=FORMAT_VERSION, fix="retrain it"
        )
        weights = arrays["weights"]
        return cls(weights, float(meta["bias"]), int(meta["dims"]))


@dataclass(slots=True)
class LearnedScorer:
    """The cascade check over an :class:`AnswerScorer` (the answering model's name is a feature)."""

    scorer: AnswerScorer

    async def __call__(self, request: ChatRequest, answer: ChatResponse, targets: Targets) -> CheckResult:
        return CheckResult(self.scorer.score(request.last_user_text, answer.content, request.model))
