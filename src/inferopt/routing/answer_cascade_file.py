"""A trained answer cascade on disk: one ``.npz`` (arrays and JSON, no pickle); loading needs no network.

Written by ``inferopt route train DATA --answer-cascade "cheap1+cheap2>strong" --out cascade.npz``,
read by the ``answer-cascade`` router kind. The file keeps the knob chosen at training time
(``escalate_at``: the escalation rate that was most accurate within the training budget).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from inferopt.routing.answer_cascade import PatternCascade, SignatureStats
from inferopt.routing.features import require_numpy
from inferopt.routing.learned import read_saved_file
from inferopt.routing.task_classifier import TaskClassifier

FORMAT_VERSION = 1


def save_pattern_cascade(cascade: PatternCascade, path: str | Path, escalate_at: float) -> None:
    """Write ``cascade`` and its default knob to ``path``."""
    np = require_numpy()

    def stats(table: dict[str, SignatureStats]) -> dict[str, list[float]]:
        return {key: [s.accept, s.gain, s.strong_cost, s.rows] for key, s in table.items()}

    meta: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "cheap": list(cascade.cheap),
        "strong": cascade.strong,
        "signature": cascade.signature,
        "labels": list(cascade.tasks.labels),
        "table": stats(cascade.table),
        "fallback": stats(cascade.fallback),
        "escalate_at": escalate_at if math.isfinite(escalate_at) else None,  # None: never escalate
    }
    with Path(path).open("wb") as f:
        np.savez_compressed(
            f, meta=np.array(json.dumps(meta)), centroids=cascade.tasks.centroids, idf=cascade.tasks.idf
        )


def load_pattern_cascade(path: str | Path) -> tuple[PatternCascade, float]:
    """The cascade saved at ``path`` and its default knob."""
    fix = "train one with `inferopt route train --answer-cascade`"
    meta, arrays = read_saved_file(path, ["centroids", "idf"], what="answer cascade", version=FORMAT_VERSION, fix=fix)
    centroids, idf = arrays["centroids"], arrays["idf"]

    def stats(table: dict[str, list[float]]) -> dict[str, SignatureStats]:
        return {k: SignatureStats(int(a), float(g), float(c), int(r)) for k, (a, g, c, r) in table.items()}

    tasks = TaskClassifier(tuple(meta["labels"]), centroids, idf)
    cascade = PatternCascade(
        tuple(meta["cheap"]), meta["strong"], tasks, stats(meta["table"]), stats(meta["fallback"]), meta["signature"]
    )
    escalate_at = meta["escalate_at"]
    return cascade, float("inf") if escalate_at is None else float(escalate_at)
