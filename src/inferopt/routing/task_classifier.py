"""Which task (benchmark, subject, source) a prompt belongs to, learned from labelled prompts.

A nearest-centroid classifier over the hashed tf-idf features of ``features.py``: each label's
centroid is the mean of its training prompts' unit vectors; a prompt gets the label of the most
similar centroid. Routers use it so that recorded rows' sources (RouterBench's ``eval_name``) can
inform routing while a live request carries only its text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferopt.errors import InvalidArgumentError
from inferopt.routing.features import (
    DEFAULT_DIMS,
    hashed_features,
    inverse_document_frequency,
    require_numpy,
    weighted_unit,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class TaskClassifier:
    """``predict(prompt)`` -> one of ``labels``. Build with :meth:`fit`."""

    labels: tuple[str, ...]
    centroids: NDArray[np.float32]  # (label, column), unit rows
    idf: NDArray[np.float32]

    @classmethod
    def fit(cls, prompts: Sequence[str], labels: Sequence[str]) -> TaskClassifier:
        numpy = require_numpy()
        if not prompts or len(prompts) != len(labels):
            raise InvalidArgumentError(
                f"need one label per prompt and at least one prompt ({len(prompts)}, {len(labels)})"
            )
        features = [hashed_features(p) for p in prompts]
        idf = inverse_document_frequency(features, DEFAULT_DIMS)
        names = tuple(sorted(set(labels)))
        centroids = numpy.zeros((len(names), idf.size), dtype=numpy.float32)
        for feats, label in zip(features, labels, strict=True):
            columns, values = weighted_unit(feats, idf)
            centroids[names.index(label), columns] += values
        centroids /= numpy.linalg.norm(centroids, axis=1, keepdims=True) + 1e-9
        return cls(names, centroids, idf)

    def predict(self, prompt: str) -> str:
        """The label whose centroid is most similar to ``prompt`` (the first label for an empty prompt)."""
        numpy = require_numpy()
        columns, values = weighted_unit(hashed_features(prompt), self.idf)
        if not columns.size:
            return self.labels[0]
        return self.labels[int(numpy.argmax(self.centroids[:, columns] @ values))]
