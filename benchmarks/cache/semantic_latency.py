"""Part 3 of bench_semantic.py: the semantic cache's lookup latency at 100k entries (see its docstring)."""

from __future__ import annotations

import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inferopt.cache.semantic import SemanticCache
from inferopt.cache.semantic.boosting import fit_trees
from inferopt.cache.semantic.calibrate import Calibration
from inferopt.cache.semantic.cross_encoder import CrossEncoder
from inferopt.cache.semantic.embedder import Vectors, normalise_rows
from inferopt.cache.semantic.features import FEATURE_NAMES
from inferopt.cache.semantic.rerank import Reranker, Stacker
from inferopt.cache.semantic.verifier import PairVerifier
from inferopt.types import ChatRequest, Message

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


def word(i: int) -> str:
    """A lowercase made-up word per number: texts without digits or names, so no guard vetoes the
    candidates and the verifier and cross-encoder score all 5 of every lookup (the slow path)."""
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


def timing_verifier(embedder: str) -> PairVerifier:
    """A verifier of the default size (300 depth-4 trees) fitted on random features: timing only."""
    rng = np.random.default_rng(0)
    features = rng.random((2000, len(FEATURE_NAMES)))
    labels = (features[:, 0] + 0.3 * rng.random(2000) > 0.65).astype(int)
    return PairVerifier(fit_trees(features, labels), {"word": 1.0}, embedder)


def row(label: str, wall: list[float], cpu: list[float] | None = None) -> tuple[float, float]:
    p50, p99 = statistics.median(wall), percentile(wall, 0.99)
    shown = f"{statistics.median(cpu) * 1e3:>12.2f}" if cpu else ""
    print(f"{label:<58}{p50 * 1e3:>9.2f}{p99 * 1e3:>9.2f}{shown}")
    return p50, p99


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
    print(f"(guards vetoed {vetoed} of the {5 * queries} candidates: the models scored the rest)")
    return wall, cpu


def search_rows(cache: SemanticCache, embedder: RandomTextEmbedder, queries: int) -> None:
    bucket = next(iter(cache._buckets.values()))
    vectors = embedder.embed([f"q{i}" for i in range(queries)])
    for label, exact in (("index search, top 5, exact scan", True), ("index search, top 5, sketch + re-rank", False)):
        search, search_cpu = [], []
        for vector in vectors:
            begin, begin_cpu = time.perf_counter(), time.process_time()
            bucket.index.search(vector, cache.top_k, exact=exact)
            search.append(time.perf_counter() - begin)
            search_cpu.append(time.process_time() - begin_cpu)
        row(label, search, search_cpu)


def cross_encoder_rows(cross_encoder: CrossEncoder, queries: int) -> None:
    times = []
    for i in range(queries):
        pairs = [(query_text(i), stored_text(i + j)) for j in range(5)]
        begin = time.perf_counter()
        cross_encoder.logits(pairs)
        times.append(time.perf_counter() - begin)
    row("cross-encoder alone, 5 candidates (one batch)", times)


def resident_bytes() -> int:
    """This process's resident memory (Linux /proc; 0 elsewhere)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def load_minilm() -> Any:
    try:
        from inferopt.cache.semantic import MiniLMEmbedder

        return MiniLMEmbedder()
    except Exception as exc:
        print(f"(embedding time not measured: {exc})")
        return None


async def end_to_end_rows(cache: SemanticCache, model: Any, queries: int) -> None:
    """Whole lookups of questions never seen before: embedding with the model included."""
    import torch

    random_embedder = cache.embedder
    cache.embedder = model  # stored vectors stay random: the search's cost does not depend on them
    for threads in (1, 2):
        torch.set_num_threads(threads)
        cache._recent.clear()
        wall = []
        for i in range(queries):
            request = ask(f"how can i fix the {word(i + 3 * queries)} error in my {word(i % 977)} setup?")
            begin = time.perf_counter()
            await cache.match(request, "default")
            wall.append(time.perf_counter() - begin)
        row(f"whole lookup: embed (MiniLM, {threads} torch thread) + match", wall)
    cache.embedder = random_embedder
    texts = [f"how do i mend the {word(i)} fault on a {word(i % 31)} box?" for i in range(queries)]
    begin = time.perf_counter()
    for text in texts:
        model.embed([text])
    one = time.perf_counter() - begin
    begin = time.perf_counter()
    model.embed(texts)
    batched = time.perf_counter() - begin
    print(f"(embedding for inserts: {queries / one:.0f} questions/s one at a time, {queries / batched:.0f}/s batched)")


async def lookup_latency(entries: int, queries: int, cross_encoder: CrossEncoder | None) -> None:
    embedder = RandomTextEmbedder()
    calibration = Calibration(embedder.name, 0.99, timing_verifier(embedder.name))
    model = load_minilm()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "semantic.db"
        cache = SemanticCache(embedder, calibration=calibration, embed_in_thread=False, index_path=path)
        vectors = embedder.embed([stored_text(i) for i in range(entries)])  # not timed: the model's part is below
        before = resident_bytes()
        start = time.perf_counter()
        for i in range(entries):
            cache._recent[stored_text(i)] = vectors[i]
            await cache.remember(ask(stored_text(i)), "default", f"k{i}")
            cache._recent.pop(stored_text(i), None)
        filled = time.perf_counter() - start
        grown = resident_bytes() - before
        print(
            f"(inserts: {entries / filled:,.0f} remember calls/s with the index file, embedding aside; "
            f"memory {grown / entries:,.0f} bytes per entry: vector, sketch, question, key)"
        )
        for i in range(queries):  # the embeddings of the queries are cached: the rows below time the rest
            await cache._embed(query_text(i))
        print(f"\n3) semantic lookup, {entries:,} entries in one context (filled and written in {filled:.1f} s)")
        print(f"{'part':<58}{'p50 ms':>9}{'p99 ms':>9}{'CPU p50 ms':>12}")
        search_rows(cache, embedder, queries)
        wall, cpu = await timed_lookups(cache, queries)
        p50, p99 = row("search + guards + verifier (whole match, no re-ranker)", wall, cpu)
        if cross_encoder is not None:
            cross_encoder = CrossEncoder(cross_encoder.path, threads=1)  # as the cache loads it
            cross_encoder_rows(cross_encoder, queries)
            cache.reranker = Reranker(cross_encoder, Stacker((1.0, 1.0), 0.0))
            wall, cpu = await timed_lookups(cache, queries)
            p50, p99 = row("search + guards + verifier + cross-encoder (whole match)", wall, cpu)
        if model is not None:
            await end_to_end_rows(cache, model, queries)
        cache.close()
        start = time.perf_counter()
        reopened = SemanticCache(embedder, calibration=calibration, embed_in_thread=False, index_path=path)
        print(f"(restart: {len(reopened):,} entries loaded from the index file in {time.perf_counter() - start:.2f} s)")
        reopened.close()
    if model is None:
        return
    embeds = []
    for i in range(queries):
        begin = time.perf_counter()
        model.embed([f"How do I fix error {i} when installing package {i % 50}?"])
        embeds.append(time.perf_counter() - begin)
    e50, e99 = row("embed one question (all-MiniLM-L6-v2, CPU)", embeds)
    print(f"{'whole lookup (sum of p50 / sum of p99)':<58}{(p50 + e50) * 1e3:>9.2f}{(p99 + e99) * 1e3:>9.2f}")
