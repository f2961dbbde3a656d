"""Semantic cache: lookup latency at 100k entries, precision/recall on the Quora dev pairs, false hits.

    python benchmarks/cache/bench_semantic.py --embeddings-cache /tmp/quora_minilm.npz   # all parts
    python benchmarks/cache/bench_semantic.py --skip-quality                             # latency only

1) Latency: 100,000 entries in one context (the worst case: every entry is a candidate), random
   unit vectors of dimension 384 standing in for stored questions; a lookup = index search (top 5)
   + guards + verifier (boosted trees of the default size) on the candidates. The model's own time
   to embed one question is measured separately (when installed) and added. Then the same 100k
   entries are written to a SQLite index file and loaded back (a restarted process).
2) Quality: ``calibrate_pairs`` on ../shared/data/semcache/dataset_public_val.csv by 5-fold
   cross-fitting (see inferopt.cache.semantic.calibrate: verifier fitted on 4 folds, threshold for
   precision 0.90 by inner 4-fold validation on those 4 folds, figures on the 5th), for two split
   seeds; plain cosine is measured on the same held-out folds with its threshold chosen on the
   training folds. The first run embeds the questions (minutes); --embeddings-cache keeps them.
3) False hits: the calibrated cache (fitted on all dev pairs) and the uncalibrated one (cosine
   0.977 + guards) on our adversarial pairs (tests/cache/fixtures/semantic_adversarial.csv) and on
   the 297 MeanCache follow-up questions, asked in their conversation and alone.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inferopt.cache.semantic import HashingEmbedder, SemanticCache
from inferopt.cache.semantic.boosting import fit_trees
from inferopt.cache.semantic.calibrate import Calibration, CalibrationReport, calibrate_pairs, embed_texts, read_pairs
from inferopt.cache.semantic.embedder import Embedder, Vectors, normalise_rows
from inferopt.cache.semantic.features import FEATURE_NAMES
from inferopt.cache.semantic.index import VectorIndex
from inferopt.cache.semantic.verifier import Verifier
from inferopt.types import ChatRequest, Message

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".." / "shared" / "data" / "semcache"
DEV_PAIRS = DATA / "dataset_public_val.csv"
FOLLOW_UPS = ("dataset_contextual_queries_contextual_queries.json", "dataset_contextual_queries_d1.json")
ADVERSARIAL = ROOT / "tests" / "cache" / "fixtures" / "semantic_adversarial.csv"
DIM = 384


class RandomTextEmbedder:
    """A stand-in with the model's dimension: a fixed random unit vector per text (for timing only)."""

    name, dim = "random-384", DIM

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows = [
            np.random.default_rng(int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest())).normal(size=DIM)
            for t in texts
        ]
        return normalise_rows(np.asarray(rows))


class LookupEmbedder:
    """Vectors computed beforehand in one batch (fast), looked up by text."""

    def __init__(self, name: str, vectors: dict[str, Any]) -> None:
        self.name, self.dim, self.vectors = name, DIM, vectors

    def embed(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self.vectors[t] for t in texts])


def word(i: int) -> str:
    """A lowercase made-up word per number: texts without digits or names, so no guard vetoes the
    candidates and the verifier scores all 5 of every lookup (the slow path)."""
    letters = "bcdfghklmnprstvz"
    return "".join(letters[(i >> shift) & 15] + "aeiou"[(i >> shift) % 5] for shift in (0, 4, 8, 12, 16))


def stored_text(i: int) -> str:
    return f"how do i fix the {word(i)} problem with my {word(i % 977)} setup?"


def query_text(i: int) -> str:
    return f"how can i fix the {word(i + 7)} problem in my {word(i % 977)} setup?"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ask(text: str, history: list[Message] | None = None) -> ChatRequest:
    return ChatRequest(model="gpt-4o-mini", messages=[*(history or []), Message("user", text)], temperature=0)


def timing_verifier(embedder: str) -> Verifier:
    """A verifier of the default size (300 depth-4 trees) fitted on random features: timing only."""
    rng = np.random.default_rng(0)
    features = rng.random((2000, len(FEATURE_NAMES)))
    labels = (features[:, 0] + 0.3 * rng.random(2000) > 0.65).astype(int)
    return Verifier(fit_trees(features, labels), {"word": 1.0}, embedder)


async def timed_lookups(cache: SemanticCache, queries: int) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    vetoed = 0
    for i in range(queries):
        request = ask(query_text(i))
        begin, begin_cpu = time.perf_counter(), time.process_time()
        await cache.match(request, "default")
        vetoed += len(cache.last_rejections)
        wall.append(time.perf_counter() - begin)
        cpu.append(time.process_time() - begin_cpu)
    print(f"(guards vetoed {vetoed} of the {5 * queries} candidates: the verifier scored the rest)")
    return wall, cpu


async def lookup_latency(entries: int, queries: int) -> None:
    embedder = RandomTextEmbedder()
    calibration = Calibration(embedder.name, 0.99, timing_verifier(embedder.name))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "semantic.db"
        cache = SemanticCache(embedder, calibration=calibration, embed_in_thread=False, index_path=path)
        start = time.perf_counter()
        for i in range(entries):
            await cache.remember(ask(stored_text(i)), "default", f"k{i}")
        filled = time.perf_counter() - start
        for i in range(queries):  # the embeddings of the queries are cached: the rows below time the rest
            await cache._embed(query_text(i))
        print(f"\n1) semantic lookup, {entries:,} entries in one context (filled and written in {filled:.1f} s)")
        print(f"{'part':<48}{'p50 ms':>9}{'p99 ms':>9}{'CPU p50 ms':>12}")
        bucket = next(iter(cache._buckets.values()))
        vectors = embedder.embed([f"q{i}" for i in range(queries)])
        for label, exact in (
            ("index search, top 5, exact scan", True),
            ("index search, top 5, sketch + re-rank", False),
        ):
            search, search_cpu = [], []
            for vector in vectors:
                begin, begin_cpu = time.perf_counter(), time.process_time()
                bucket.index.search(vector, cache.top_k, exact=exact)
                search.append(time.perf_counter() - begin)
                search_cpu.append(time.process_time() - begin_cpu)
            s50, s99, c50 = statistics.median(search), percentile(search, 0.99), statistics.median(search_cpu)
            print(f"{label:<48}{s50 * 1e3:>9.2f}{s99 * 1e3:>9.2f}{c50 * 1e3:>12.2f}")
        wall, cpu = await timed_lookups(cache, queries)
        p50, p99 = statistics.median(wall), percentile(wall, 0.99)
        label = "search + guards + verifier (whole match)"
        print(f"{label:<48}{p50 * 1e3:>9.2f}{p99 * 1e3:>9.2f}{statistics.median(cpu) * 1e3:>12.2f}")
        cache.close()
        start = time.perf_counter()
        reopened = SemanticCache(embedder, calibration=calibration, embed_in_thread=False, index_path=path)
        print(f"(restart: {len(reopened):,} entries loaded from the index file in {time.perf_counter() - start:.2f} s)")
        reopened.close()
    try:
        from inferopt.cache.semantic import MiniLMEmbedder

        model = MiniLMEmbedder()
    except Exception as exc:
        print(f"(embedding time not measured: {exc})")
        return
    embeds = []
    for i in range(queries):
        begin = time.perf_counter()
        model.embed([f"How do I fix error {i} when installing package {i % 50}?"])
        embeds.append(time.perf_counter() - begin)
    e50, e99 = statistics.median(embeds), percentile(embeds, 0.99)
    print(f"{'embed one question (all-MiniLM-L6-v2, CPU)':<48}{e50 * 1e3:>9.2f}{e99 * 1e3:>9.2f}")
    print(f"{'whole lookup (sum of p50 / sum of p99)':<48}{(p50 + e50) * 1e3:>9.2f}{(p99 + e99) * 1e3:>9.2f}")


def load_embedder(name: str) -> Embedder:
    if name == "hashing":
        return HashingEmbedder()
    from inferopt.cache.semantic import MiniLMEmbedder

    return MiniLMEmbedder()


def dev_vectors(embedder: Embedder, texts: list[str], cache: Path | None) -> dict[str, Any]:
    if cache is not None and cache.exists():
        stored = np.load(cache, allow_pickle=False)
        vectors = dict(zip(stored["texts"].tolist(), stored["vectors"], strict=True))
        if set(texts) <= set(vectors):
            return vectors
    start = time.perf_counter()
    vectors = embed_texts(embedder, texts)
    print(f"(embedded {len(texts):,} questions in {time.perf_counter() - start:.0f} s)")
    if cache is not None:
        np.savez(cache, texts=np.asarray(texts), vectors=np.stack([vectors[t] for t in texts]))
    return vectors


def sketch_recall(vectors: dict[str, Any], queries: list[str]) -> None:
    """How often the sketch's top 5 equals the exact top 5, on real question vectors."""
    texts = sorted(vectors)
    index = VectorIndex(DIM, sketch_from=10_000)  # the real set is 23k: force the sketch on
    index.add_many(np.stack([vectors[t] for t in texts]), list(range(len(texts))))
    same = total = 0
    for text in queries:
        exact = {item for item, _ in index.search(vectors[text], 5, exact=True)}
        same += len(exact & {item for item, _ in index.search(vectors[text], 5)})
        total += len(exact)
    print(f"(index sketch on {len(texts):,} real question vectors: {same / total:.4f} of the exact top-5 found)")


def quality_table(report: CalibrationReport) -> None:
    print(f"\n{'seed':<6}{'method':<18}{'folds: precision':>28}{'recall':>30}{'pooled P':>10}{'pooled R':>10}")
    for (seed, name), point in sorted(report.pooled.items()):
        folds = [f.results[name] for f in report.folds if f.seed == seed]
        precision = " ".join(f"{p.precision:.3f}" for p in folds)
        recall = " ".join(f"{p.recall:.3f}" for p in folds)
        print(f"{seed:<6}{name:<18}{precision:>28}{recall:>30}{point.precision:>10.3f}{point.recall:>10.3f}")
    for name in ("cosine", "verifier+guards"):
        (p, p_lo, p_hi), (r, r_lo, r_hi) = report.spread(name, "precision"), report.spread(name, "recall")
        print(f"{name:<17} mean over seeds: precision {p:.3f} ({p_lo:.3f}-{p_hi:.3f}), ", end="")
        print(f"recall {r:.3f} ({r_lo:.3f}-{r_hi:.3f})")


async def false_hits(embedder: Embedder, calibration: Calibration | None) -> None:
    with open(ADVERSARIAL, newline="") as handle:
        adversarial = list(csv.DictReader(handle))
    conversations = [c for name in FOLLOW_UPS for c in json.loads((DATA / name).read_text())]
    texts = [r[k] for r in adversarial for k in ("question1", "question2")]
    texts += [c[k] for c in conversations for k in ("Main Query", "Follow-Up Query")]
    fixed = LookupEmbedder(embedder.name, embed_texts(embedder, texts))
    print(f"\n3) false hits: {len(adversarial)} adversarial pairs, {len(conversations)} follow-up questions")
    print("follow-up alone: sent without its history, i.e. a new question: hits on its own main question / on")
    print("another stored question (another conversation's main question: often a true paraphrase)")
    print(f"{'cache':<34}{'adversarial':>12}{'follow-up in context':>22}{'follow-up alone':>17}")
    for label, cal in (("cosine 0.977 + guards", None), ("calibrated verifier + guards", calibration)):
        hits = 0
        for row in adversarial:
            cache = SemanticCache(fixed, calibration=cal, embed_in_thread=False)
            await cache.remember(ask(row["question1"]), "default", "k1")
            hits += await cache.match(ask(row["question2"]), "default") is not None
        cache = SemanticCache(fixed, calibration=cal, embed_in_thread=False)
        for i, c in enumerate(conversations):
            await cache.remember(ask(c["Main Query"]), "default", f"main-{i}")
        in_context = own = other = 0
        for c in conversations:
            history = [Message("user", c["Main Query"]), Message("assistant", c["Main Query Response"])]
            in_context += await cache.match(ask(c["Follow-Up Query"], history), "default") is not None
            found = await cache.match(ask(c["Follow-Up Query"]), "default")
            own += found is not None and found.question == c["Main Query"]  # (several conversations share one)
            other += found is not None and found.question != c["Main Query"]
        print(f"{label:<34}{hits:>12}{in_context:>22}{f'{own} / {other}':>17}")


async def quality(embeddings_cache: Path | None, embedder_name: str, seeds: list[int], folds: int) -> None:
    if not DEV_PAIRS.exists():
        print(f"\n2) quality skipped: {DEV_PAIRS} not present")
        return
    pairs = read_pairs(DEV_PAIRS)
    embedder = load_embedder(embedder_name)
    vectors = dev_vectors(embedder, sorted({t for a, b, _ in pairs for t in (a, b)}), embeddings_cache)
    sketch_recall(vectors, [a for a, _, _ in pairs[:3000]])
    print(f"\n2) precision/recall on {DEV_PAIRS.name} ({len(pairs):,} pairs), embedder {embedder.name}")
    start = time.perf_counter()
    report = calibrate_pairs(pairs, embedder, target_precision=0.9, folds=folds, seeds=seeds, vectors=vectors)
    print(report.summary())
    quality_table(report)
    print(f"(cross-fitting and the final fit took {time.perf_counter() - start:.0f} s)")
    await false_hits(embedder, report.calibration)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--embedder", default="minilm", choices=["minilm", "hashing"])
    parser.add_argument("--embeddings-cache", type=Path, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    if not args.skip_latency:
        await lookup_latency(args.entries, args.queries)
    if not args.skip_quality:
        await quality(args.embeddings_cache, args.embedder, args.seeds, args.folds)


if __name__ == "__main__":
    asyncio.run(main())
