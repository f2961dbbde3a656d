"""The semantic cache's lookup latency, insert rate and memory per entry, at 10k and 100k entries.

    PYTHONPATH=src python benchmarks/cache/semantic_latency.py          # 10k and 100k, 300 lookups (~5 min)
    PYTHONPATH=src python benchmarks/cache/semantic_latency.py --full   # + 1,000 lookups, the cross-encoder

Also part 3 of bench_semantic.py. One context holds every entry (the worst case: every entry is a
candidate); stored questions are random unit vectors of the model's dimension (the search's cost
does not depend on them), the questions looked up are new texts embedded by the real model. A
lookup = embed the question + index search (top 5) + guards + the verifier (boosted trees of the
default size) on the candidates, with texts no guard vetoes (the slow path). The embedders are
measured side by side, interleaved query by query, so the machine's load falls on each alike:
torch (sentence-transformers), onnxruntime float, onnxruntime int8 (the default), 1 and 2 threads.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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

QUORA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "semcache" / "dataset_public_val.csv"

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


class GcPauses:
    """Python's garbage-collector passes while the block runs: how many per generation, the longest
    (a full pass over every tracked object is a likely source of a lookup's tail)."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.counts[generation] += 1
            self.longest[generation] = max(self.longest[generation], time.perf_counter() - self._started)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)

    def line(self) -> str:
        pairs = enumerate(zip(self.counts, self.longest, strict=True))
        parts = [f"gen{g} {n} (longest {t * 1e3:.1f} ms)" for g, (n, t) in pairs]
        return f"garbage-collector passes: {', '.join(parts)}; {len(gc.get_objects()):,} tracked objects"


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
    shown = f"{statistics.median(cpu) * 1e3:>10.2f}{percentile(cpu, 0.99) * 1e3:>10.2f}" if cpu else ""
    print(f"{label:<62}{p50 * 1e3:>9.2f}{p99 * 1e3:>9.2f}{shown}", flush=True)
    return p50, p99


def load_embedders() -> dict[str, Any]:
    """Every MiniLM variant that loads here (and a line for each that does not)."""
    from inferopt.cache.semantic import MiniLMEmbedder
    from inferopt.cache.semantic.onnx_embedder import OnnxMiniLMEmbedder

    loaders = {
        "torch (sentence-transformers), 1 thread": lambda: MiniLMEmbedder(),
        "onnxruntime float, 1 thread": lambda: OnnxMiniLMEmbedder(quantize=False),
        "onnxruntime int8, 2 threads": lambda: OnnxMiniLMEmbedder(quantize=True, threads=2),
        "onnxruntime int8, 1 thread (the default)": lambda: OnnxMiniLMEmbedder(quantize=True),
    }
    loaded = {}
    for label, load in loaders.items():
        try:
            start = time.perf_counter()
            loaded[label] = load()
            print(f"(loaded {label} in {time.perf_counter() - start:.1f} s)")
        except Exception as exc:
            print(f"(skipped {label}: {exc})")
    if any(label.startswith("torch") for label in loaded):
        import torch

        torch.set_num_threads(1)  # its best p99 on a shared 2-core machine (bench_semantic's earlier runs)
    return loaded


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


def search_rows(cache: SemanticCache, queries: int) -> None:
    index = next(iter(cache._buckets.values())).index
    vectors = RandomTextEmbedder().embed([f"q{i}" for i in range(queries)])
    timings: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
    for vector in vectors:  # interleaved: the two scans share the machine's load alike
        for exact in (False, True):
            begin, begin_cpu = time.perf_counter(), time.process_time()
            index.search(vector, cache.top_k, exact=exact)
            timings[exact][0].append(time.perf_counter() - begin)
            timings[exact][1].append(time.process_time() - begin_cpu)
    probed = f"{min(index.probe, index.lists)} of {index.lists} lists" if index.lists > 1 else "one list"
    row(f"index search, top 5, clustered ({probed})", *timings[False])
    row("index search, top 5, exact scan of every row", *timings[True])


PARAPHRASES = ["do i fix", "can i repair", "should i fix", "do i solve", "to fix"]


def near_copies(vector: Vectors, count: int, rng: np.random.Generator) -> Vectors:
    """``count`` unit vectors at cosine ~0.97 from ``vector``: stored questions a lookup must verify."""
    noise = rng.normal(size=(count, len(vector))) / np.sqrt(len(vector))
    return normalise_rows(vector[None, :] + 0.25 * noise)


def real_questions(count: int) -> list[str]:
    """Distinct Quora questions (real lengths: a median of 14 tokens against the made-up texts' 21),
    or none when ../shared is absent (said in the output)."""
    if not QUORA.exists():
        print(f"(skipped the real-question rows: {QUORA} not found)")
        return []
    import csv

    seen: dict[str, None] = {}
    with open(QUORA, newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            seen.setdefault(record["question1"].strip(), None)
            if len(seen) >= count:
                break
    return list(seen)


async def whole_lookups(cache: SemanticCache, embedders: dict[str, Any], queries: int, offset: int) -> None:
    """New questions (never embedded before), each looked up once per embedder, interleaved.

    Two kinds: far (the nearest stored questions are random rows: the first stage rules them out)
    and near (5 stored paraphrases at cosine ~0.97 per question: all 5 go through the verifier,
    the slow path)."""
    filler = cache.embedder
    default = list(embedders.values())[-1]
    rng = np.random.default_rng(1)
    far = [f"how can i fix the {word(i + offset)} error in my {word(i % 977)} setup?" for i in range(queries)]
    near = [f"how can i fix the {word(i + 2 * offset)} error in my {word(i % 977)} setup?" for i in range(queries)]
    # Far first: once the near paraphrases are stored, they are the nearest rows of every question
    # of the same template, and a "far" lookup would verify them too.
    real = real_questions(queries)
    kinds = [("far", far), ("quora, far: real Quora questions", real), ("near: 5 candidates verified", near)]
    for kind, texts in [(kind, texts) for kind, texts in kinds if texts]:
        if kind.startswith("near"):  # store the paraphrases once, after every far kind
            near_vectors = default.embed(near)
            for i, text in enumerate(near):  # paraphrases no guard vetoes (no digits, names or negations)
                for j, vector in enumerate(near_copies(near_vectors[i], cache.top_k, rng)):
                    stored = text.replace("can i fix", PARAPHRASES[j])
                    cache._recent[stored] = vector
                    await cache.remember(ask(stored), "default", f"near-{i}-{j}")
        wall: dict[str, list[float]] = {label: [] for label in embedders}
        cpu: dict[str, list[float]] = {label: [] for label in embedders}
        verified = 0
        with GcPauses() as pauses:
            for text in texts:
                for label, model in embedders.items():
                    cache.embedder = model  # the fillers stay random: the search's cost does not depend on them
                    cache._recent.clear()
                    begin, begin_cpu = time.perf_counter(), time.process_time()
                    await cache.match(ask(text), "default")
                    wall[label].append(time.perf_counter() - begin)
                    cpu[label].append(time.process_time() - begin_cpu)
                    verified += cache.verifier is not None and cache.verifier.last_scored
                cache.embedder = filler
        per_lookup = verified / (len(texts) * len(embedders))
        print(f"(whole lookups, {kind}: the verifier scored {per_lookup:.1f} candidates a lookup; {pauses.line()})")
        for label in embedders:
            row(f"WHOLE LOOKUP, {kind.split(':')[0]}: {label}", wall[label], cpu[label])
    embed_only: dict[str, list[float]] = {label: [] for label in embedders}
    for text in far:
        for label, model in embedders.items():
            begin = time.perf_counter()
            model.embed([text + " again"])
            embed_only[label].append(time.perf_counter() - begin)
    for label in embedders:
        row(f"embed one question: {label}", embed_only[label])
    if real:  # the default embedder alone: no other model between two lookups to evict its weights from cache
        cache.embedder, alone, alone_cpu = default, [], []
        for text in real:
            cache._recent.clear()
            begin, begin_cpu = time.perf_counter(), time.process_time()
            await cache.match(ask(text + " again"), "default")
            alone.append(time.perf_counter() - begin)
            alone_cpu.append(time.process_time() - begin_cpu)
        cache.embedder = filler
        row(f"WHOLE LOOKUP, real questions, {list(embedders)[-1].split(' (')[0]} alone", alone, alone_cpu)


async def insert_rows(embedders: dict[str, Any], count: int) -> None:
    """remember() of new questions, embedding included, one at a time (each a first sight)."""
    for label, model in embedders.items():
        cache = SemanticCache(model, embed_in_thread=False)
        texts = [f"how do i mend the {word(i)} fault on a {word(i % 31)} box?" for i in range(count)]
        begin = time.perf_counter()
        for i, text in enumerate(texts):
            await cache.remember(ask(text), "default", f"k{i}")
        one = time.perf_counter() - begin
        begin = time.perf_counter()
        model.embed([t + "!" for t in texts])
        batched = time.perf_counter() - begin
        print(
            f"(inserts with {label}: {count / one:,.0f} remember calls/s one at a time; embedding in batches "
            f"{count / batched:,.0f} questions/s)"
        )


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


async def lookup_latency(
    entries: int, queries: int, cross_encoder: CrossEncoder | None, embedders: dict[str, Any] | None = None
) -> None:
    embedders = load_embedders() if embedders is None else embedders
    filler = RandomTextEmbedder()
    calibration = Calibration(filler.name, 0.99, timing_verifier(filler.name))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "semantic.db"
        cache = SemanticCache(filler, calibration=calibration, embed_in_thread=False, index_path=path)
        vectors = filler.embed([stored_text(i) for i in range(entries)])  # not timed: the model's part is below
        before = resident_bytes()
        start = time.perf_counter()
        for i in range(entries):
            cache._recent[stored_text(i)] = vectors[i]
            await cache.remember(ask(stored_text(i)), "default", f"k{i}")
            cache._recent.pop(stored_text(i), None)
        filled = time.perf_counter() - start
        grown = resident_bytes() - before
        print(f"\n3) semantic lookup, {entries:,} entries in one context")
        print(
            f"(inserts: {entries / filled:,.0f} remember calls/s with the index file, embedding aside; "
            f"memory {grown / entries:,.0f} bytes per entry: vector, question, key, index lists)"
        )
        for i in range(queries):  # the embeddings of these queries are cached: the rows below time the rest
            await cache._embed(query_text(i))
        header = "part (wall ms; CPU ms: this process, all its threads)"
        print(f"{header:<62}{'p50':>9}{'p99':>9}{'CPU p50':>10}{'CPU p99':>10}")
        search_rows(cache, queries)
        row("search + guards + verifier (whole match, embedding aside)", *await timed_lookups(cache, queries))
        if cross_encoder is not None:
            cache.reranker = Reranker(CrossEncoder(cross_encoder.path, threads=1), Stacker((1.0, 1.0), 0.0))
            cross_encoder_rows(cache.reranker.cross_encoder, queries)
            row("search + guards + verifier + cross-encoder (embedding aside)", *await timed_lookups(cache, queries))
            cache.reranker = None
        await whole_lookups(cache, embedders, queries, offset=3 * queries)
        cache.close()
        start = time.perf_counter()
        reopened = SemanticCache(filler, calibration=calibration, embed_in_thread=False, index_path=path)
        print(f"(restart: {len(reopened):,} entries loaded from the index file in {time.perf_counter() - start:.2f} s)")
        reopened.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=None, help="lookups per size (default 300; --full 1000)")
    parser.add_argument("--inserts", type=int, default=2000, help="remember() calls with embedding, per embedder")
    parser.add_argument("--full", action="store_true", help="1,000 lookups a size and the cross-encoder re-ranker")
    args = parser.parse_args()
    queries = args.queries or (1000 if args.full else 300)
    if not args.full:
        print("(skipped: the cross-encoder re-ranker's latency, 1,000 lookups a size; --full to include them)")
    start = time.perf_counter()
    print(f"(load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs)")
    embedders = load_embedders()
    cross_encoder = None
    if args.full:
        from bench_semantic import timing_cross_encoder

        cross_encoder = timing_cross_encoder(Path(tempfile.gettempdir()) / "inferopt-latency")
    for entries in args.entries:
        await lookup_latency(entries, queries, cross_encoder, embedders)
    print()
    await insert_rows(embedders, args.inserts)
    print(
        f"(load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"took {time.perf_counter() - start:.0f} s)"
    )


if __name__ == "__main__":
    asyncio.run(main())
