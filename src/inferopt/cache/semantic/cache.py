"""``SemanticCache``: find an earlier, equivalent question in the same conversation context.

Plugged into :class:`~inferopt.cache.wrapper.Cached` (``semantic=``): after an exact miss, the
last user turn is embedded and compared with earlier questions asked **in an identical context**
(same model, parameters, system prompt and earlier turns: :func:`~inferopt.cache.keys.context_key`),
so a follow-up ("and in 2020?") can never be answered from a main question. The ``top_k`` nearest
candidates pass the guards (numbers, negation, antonyms, swapped entities) and are scored by the
calibrated verifier (or plain cosine when none is given) and, when the calibration has one, by the
re-ranker (a fine-tuned cross-encoder stacked with the verifier: one transformer pass per
candidate that passed the guards); the best score at or above the namespace's threshold wins, and
its exact entry is served.

With ``max_false_hit_rate`` the threshold is not a fixed number but the bound's rule
(:mod:`inferopt.cache.semantic.bound`): the lowest threshold whose rate of wrong hits is certified
under the bound at ``confidence``, from the calibration's out-of-fold scored pairs and the feedback
on served hits (:meth:`SemanticCache.mark_hit`, :meth:`SemanticCache.report_wrong_hit`). A hit
reported wrong tightens the rule, and that (question, stored answer) pair is never served again.

The index lives in this process; with ``index_path`` it is also written to a SQLite file
(:mod:`inferopt.cache.semantic.store`), so a restarted process keeps its entries and processes
sharing the file see each other's. The answers themselves are the exact backend's.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferopt.cache.keys import context_key
from inferopt.cache.semantic.bound import DEFAULT_CONFIDENCE, FalseHitBound
from inferopt.cache.semantic.calibrate import Calibration
from inferopt.cache.semantic.embedder import Embedder, embedder_for_name, embedder_from_name
from inferopt.cache.semantic.guards import guard_reason
from inferopt.cache.semantic.index import VectorIndex
from inferopt.cache.semantic.store import SemanticStore
from inferopt.errors import ConfigError
from inferopt.types import ChatRequest

# Without a calibration, plain cosine at the threshold where it reaches ~0.90 precision on the
# Quora dev pairs (all-MiniLM-L6-v2), plus the guards.
DEFAULT_COSINE_THRESHOLD = 0.977
SERVED_REMEMBERED = 10_000  # recent served hits kept for feedback


@dataclass
class _Bucket:
    index: VectorIndex
    questions: dict[int, str] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)
    ids_by_key: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SemanticMatch:
    key: str
    question: str
    score: float
    cosine: float


class SemanticCache:
    """An embedding index per (namespace, context) with guards and a threshold per namespace."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        calibration: Calibration | None = None,
        threshold: float | None = None,
        thresholds: Mapping[str, float] | None = None,
        top_k: int = 5,
        embed_in_thread: bool = True,
        index_path: str | Path | None = None,
        max_false_hit_rate: float | None = None,
        confidence: float = DEFAULT_CONFIDENCE,
    ) -> None:
        if calibration is not None and calibration.embedder != embedder.name:
            raise ConfigError(
                f"the calibration was made with embedder {calibration.embedder!r} but this cache uses "
                f"{embedder.name!r}; calibrate again with `inferopt cache calibrate --embedder ...`"
            )
        self.embedder = embedder
        self.verifier = calibration.verifier if calibration is not None else None
        self.reranker = calibration.reranker if calibration is not None else None
        if self.reranker is not None and self.verifier is None:
            raise ConfigError("the calibration has a re-ranker but no verifier to stack it with; calibrate again")
        default = calibration.threshold if calibration is not None else DEFAULT_COSINE_THRESHOLD
        self.threshold = threshold if threshold is not None else default
        self.thresholds = dict(thresholds or {})
        self.bound = None if max_false_hit_rate is None else _bound_of(calibration, max_false_hit_rate, confidence)
        if self.bound is not None and threshold is not None:
            raise ConfigError("give the semantic cache either threshold or max_false_hit_rate, not both")
        self._served: OrderedDict[tuple[str, str], SemanticMatch] = OrderedDict()
        self._denied: set[tuple[str, str]] = set()  # (question, stored key) reported wrong: never served
        self.top_k = top_k
        self.embed_in_thread = embed_in_thread
        self._buckets: dict[str, _Bucket] = {}
        self._next_id = 0
        self._recent: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self.last_rejections: list[tuple[str, str]] = []  # (candidate, reason), for inspection
        self.store = None if index_path is None else SemanticStore(index_path, embedder=embedder.name, dim=embedder.dim)
        self._sync()
        if self.store is not None:  # earlier processes' feedback still counts
            for verdict in self.store.read_feedback():
                self._learn(verdict.question, verdict.key, verdict.score, verdict.correct)

    def threshold_for(self, namespace: str) -> float:
        """The acceptance threshold in force for ``namespace`` (the bound's, or the fixed one)."""
        if self.bound is not None:
            return max(self.bound.threshold, self.thresholds.get(namespace, -np.inf))
        return self.thresholds.get(namespace, self.threshold)

    def __len__(self) -> int:
        return sum(len(b.questions) for b in self._buckets.values())

    def _bucket(self, bucket_key: str) -> _Bucket:
        bucket = self._buckets.get(bucket_key)
        if bucket is None:
            bucket = self._buckets[bucket_key] = _Bucket(VectorIndex(self.embedder.dim))
        return bucket

    def _add(self, bucket: _Bucket, item_id: int, key: str, question: str, vector: npt.NDArray[np.float32]) -> None:
        bucket.index.add(vector, item_id)
        bucket.questions[item_id] = question
        bucket.keys[item_id] = key
        bucket.ids_by_key[key] = item_id

    def _sync(self) -> None:
        """Load the rows of the index file this process has not seen (its own and other processes')."""
        if self.store is None:
            return
        grouped: dict[str, list[tuple[int, str, str, npt.NDArray[np.float32]]]] = {}
        for entry in self.store.read_new():
            grouped.setdefault(entry.bucket, []).append((entry.row_id, entry.key, entry.question, entry.vector))
        for bucket_key, rows in grouped.items():
            bucket = self._bucket(bucket_key)
            fresh = [row for row in rows if row[0] not in bucket.questions and row[1] not in bucket.ids_by_key]
            if not fresh:
                continue
            bucket.index.add_many(np.stack([row[3] for row in fresh]), [row[0] for row in fresh])
            for item_id, key, question, _ in fresh:
                bucket.questions[item_id] = question
                bucket.keys[item_id] = key
                bucket.ids_by_key[key] = item_id

    async def _embed(self, text: str) -> npt.NDArray[np.float32]:
        vector = self._recent.get(text)
        if vector is None:
            if self.embed_in_thread:
                rows = await asyncio.to_thread(self.embedder.embed, [text])  # CPU-bound model: keep the loop free
            else:
                rows = self.embedder.embed([text])
            vector = rows[0]
            self._recent[text] = vector
            while len(self._recent) > 256:
                self._recent.popitem(last=False)
        return vector

    async def match(self, request: ChatRequest, namespace: str) -> SemanticMatch | None:
        """The best acceptable earlier question, or None."""
        question = request.last_user_text
        self._sync()
        bucket = self._buckets.get(context_key(request, namespace=namespace))
        if not question or bucket is None:
            return None
        vector = await self._embed(question)
        threshold = self.threshold_for(namespace)
        self.last_rejections = []
        candidates: list[tuple[int, float]] = []
        for item_id, cosine in bucket.index.search(vector, self.top_k):
            reason = guard_reason(question, bucket.questions[item_id])
            if (question, bucket.keys[item_id]) in self._denied:
                reason = "reported wrong"
            if reason is None:
                candidates.append((item_id, cosine))
            else:
                self.last_rejections.append((bucket.questions[item_id], reason))
        if not candidates:
            return None
        if self.verifier is None:
            scores = [cosine for _, cosine in candidates]
        else:
            texts = [bucket.questions[item_id] for item_id, _ in candidates]
            vectors = np.stack([bucket.index.vector(item_id) for item_id, _ in candidates])
            # Alone, the trees decide: a candidate whose cosine rules it out is skipped unscored (the
            # first stage). Stacked with a re-ranker, every candidate's tree score is needed.
            at_least = threshold if self.reranker is None else None
            tree_scores = self.verifier.score_candidates(question, vector, texts, vectors, at_least=at_least)
            if self.reranker is None:
                scores = tree_scores.tolist()
            else:
                pairs = [(question, text) for text in texts]
                if self.embed_in_thread:  # a transformer pass per candidate: keep the loop free, as for embedding
                    reranked = await asyncio.to_thread(self.reranker.score, pairs, tree_scores)
                else:
                    reranked = self.reranker.score(pairs, tree_scores)
                scores = reranked.tolist()
        best = int(np.argmax(scores))
        if scores[best] < threshold:
            return None
        item_id, cosine = candidates[best]
        found = SemanticMatch(bucket.keys[item_id], bucket.questions[item_id], float(scores[best]), cosine)
        self._served[(namespace, question)] = found
        self._served.move_to_end((namespace, question))
        while len(self._served) > SERVED_REMEMBERED:
            self._served.popitem(last=False)
        return found

    def mark_hit(self, request: ChatRequest, namespace: str, *, correct: bool) -> bool:
        """Feedback on the hit served for ``request`` (by a user, or a check): was its answer right?

        Updates the bound's estimate (a wrong one tightens the threshold) and, when wrong, never
        serves that stored answer for this question again. Written to the index file, when there is
        one, so later processes count it. False when no recent hit was served for this request."""
        question = request.last_user_text
        found = self._served.pop((namespace, question), None)  # one verdict per served hit
        if found is None:
            return False
        self._learn(question, found.key, found.score, correct)
        if self.store is not None:
            self.store.add_feedback(namespace, question, found.key, found.score, correct)
        return True

    def report_wrong_hit(self, request: ChatRequest, namespace: str) -> bool:
        """``mark_hit(request, namespace, correct=False)``."""
        return self.mark_hit(request, namespace, correct=False)

    def _learn(self, question: str, key: str, score: float, correct: bool) -> None:
        if not correct:
            self._denied.add((question, key))
        if self.bound is not None:
            self.bound.record(score, correct)

    async def lookup(self, request: ChatRequest, namespace: str) -> str | None:
        found = await self.match(request, namespace)
        return None if found is None else found.key

    async def remember(self, request: ChatRequest, namespace: str, key: str) -> None:
        question = request.last_user_text
        if not question:
            return
        self._sync()
        bucket_key = context_key(request, namespace=namespace)
        bucket = self._bucket(bucket_key)
        if key in bucket.ids_by_key:
            return
        vector = await self._embed(question)
        if self.store is None:
            item_id = self._next_id
            self._next_id += 1
        else:
            row_id = self.store.add(bucket_key, namespace, key, question, vector)
            if row_id is None:  # another process stored it first: read it from the file
                self._sync()
                return
            item_id = row_id
        self._add(bucket, item_id, key, question, vector)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def semantic_from_options(options: Mapping[str, Any] | bool) -> SemanticCache:
    """``semantic: {embedder: minilm, calibration: path.json, threshold: 0.9, thresholds: {ns: t}, top_k: 5,
    index: .inferopt/semantic.db, max_false_hit_rate: 0.05, confidence: 0.95}``."""
    opts: dict[str, Any] = dict(options) if isinstance(options, Mapping) else {}
    known = {
        "embedder",
        "calibration",
        "threshold",
        "thresholds",
        "top_k",
        "index",
        "max_false_hit_rate",
        "confidence",
    }
    unknown = set(opts) - known
    if unknown:
        raise ConfigError(f"unknown semantic cache option(s) {sorted(unknown)}; known: {', '.join(sorted(known))}")
    calibration = Calibration.load(opts["calibration"]) if opts.get("calibration") else None
    name = str(opts.get("embedder", "minilm"))
    if name == "minilm" and calibration is not None and embedder_for_name(calibration.embedder):
        name = embedder_for_name(calibration.embedder)  # the variant the calibration's scores were made with
    embedder = embedder_from_name(name)
    return SemanticCache(
        embedder,
        calibration=calibration,
        threshold=opts.get("threshold"),
        thresholds=opts.get("thresholds"),
        top_k=int(opts.get("top_k", 5)),
        index_path=opts.get("index"),
        max_false_hit_rate=None if opts.get("max_false_hit_rate") is None else float(opts["max_false_hit_rate"]),
        confidence=float(opts.get("confidence", DEFAULT_CONFIDENCE)),
    )


def _bound_of(calibration: Calibration | None, max_rate: float, confidence: float) -> FalseHitBound:
    if calibration is None or calibration.bound_scores is None or calibration.bound_labels is None:
        raise ConfigError(
            "max_false_hit_rate needs a calibration with scored pairs: `inferopt cache calibrate PAIRS.csv "
            "--output semcache.json` (without --cross-encoder), then semantic: {calibration: semcache.json}"
        )
    return FalseHitBound(
        np.asarray(calibration.bound_scores), np.asarray(calibration.bound_labels), max_rate, confidence
    )
