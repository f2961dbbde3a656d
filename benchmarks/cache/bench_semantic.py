"""Semantic cache: lookup latency at 100k entries, and precision/recall on the Quora dev pairs.

    python benchmarks/cache/bench_semantic.py                     # both parts
    python benchmarks/cache/bench_semantic.py --skip-quality      # latency only (no model needed)
    python benchmarks/cache/bench_semantic.py --embeddings-cache /tmp/quora_minilm.npz   # reuse embeddings

Latency: 100,000 entries in one context (the worst case: every entry is a candidate), random unit
vectors of dimension 384 standing in for stored questions; a lookup = index search (top 5) + guards +
verifier on the candidates. The model's own time to embed one question is measured separately
(when installed) and added. Quality: ``calibrate_pairs`` on ../shared/data/semcache/dataset_public_val.csv
(fit / tune / test split, figures on the test part only), for two split seeds.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from inferopt.cache.semantic import HashingEmbedder, SemanticCache
from inferopt.cache.semantic.calibrate import calibrate_pairs, embed_texts, fit_verifier, read_pairs
from inferopt.cache.semantic.embedder import Vectors, normalise_rows
from inferopt.types import ChatRequest

DEV_PAIRS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "semcache" / "dataset_public_val.csv"
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ask(text: str) -> ChatRequest:
    return ChatRequest.of(text, model="gpt-4o-mini", temperature=0)


async def lookup_latency(entries: int, queries: int) -> None:
    from inferopt.cache.semantic.calibrate import Calibration

    embedder = RandomTextEmbedder()
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 2 + 9 + 6 + 2 * DIM))
    verifier = fit_verifier(features, rng.integers(0, 2, size=200), embedder=embedder.name, epochs=5)
    cache = SemanticCache(embedder, calibration=Calibration(embedder.name, 0.99, verifier), embed_in_thread=False)
    start = time.perf_counter()
    for i in range(entries):
        await cache.remember(ask(f"stored question number {i} about topic {i % 977}?"), "default", f"k{i}")
    print(f"\n1) semantic lookup, {entries:,} entries in one context (filled in {time.perf_counter() - start:.1f} s)")
    samples = []
    for i in range(queries):
        request = ask(f"a new question {i} about topic {i % 977}?")
        begin = time.perf_counter()
        await cache.match(request, "default")
        samples.append(time.perf_counter() - begin)
    p50, p99 = statistics.median(samples), percentile(samples, 0.99)
    print(f"{'part':<44}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"{'search top-5 + guards + verifier':<44}{p50 * 1e3:>9.2f}{p99 * 1e3:>9.2f}")
    try:
        from inferopt.cache.semantic import MiniLMEmbedder

        model = MiniLMEmbedder()
    except Exception as exc:
        print(f"(embedding time not measured: {exc})")
        return
    texts = [f"How do I fix error {i} when installing package {i % 50}?" for i in range(queries)]
    embeds = []
    for text in texts:
        begin = time.perf_counter()
        model.embed([text])
        embeds.append(time.perf_counter() - begin)
    e50, e99 = statistics.median(embeds), percentile(embeds, 0.99)
    print(f"{'embed one question (all-MiniLM-L6-v2, CPU)':<44}{e50 * 1e3:>9.2f}{e99 * 1e3:>9.2f}")
    print(f"{'whole lookup (sum of p50 / sum of p99)':<44}{(p50 + e50) * 1e3:>9.2f}{(p99 + e99) * 1e3:>9.2f}")


def quality(embeddings_cache: Path | None, embedder_name: str) -> None:
    if not DEV_PAIRS.exists():
        print(f"\n2) quality skipped: {DEV_PAIRS} not present")
        return
    pairs = read_pairs(DEV_PAIRS)
    if embedder_name == "hashing":
        embedder = HashingEmbedder()
    else:
        from inferopt.cache.semantic import MiniLMEmbedder

        embedder = MiniLMEmbedder()  # type: ignore[assignment]
    texts = sorted({t for a, b, _ in pairs for t in (a, b)})
    if embeddings_cache is not None and embeddings_cache.exists():
        stored = np.load(embeddings_cache, allow_pickle=False)
        vectors = dict(zip(stored["texts"].tolist(), stored["vectors"], strict=True))
    else:
        start = time.perf_counter()
        vectors = embed_texts(embedder, texts)
        print(f"(embedded {len(texts):,} questions in {time.perf_counter() - start:.0f} s)")
        if embeddings_cache is not None:
            np.savez(embeddings_cache, texts=np.asarray(texts), vectors=np.stack([vectors[t] for t in texts]))
    print(f"\n2) precision/recall on {DEV_PAIRS.name} ({len(pairs):,} pairs), embedder {embedder.name}")
    for seed in (0, 1):
        report = calibrate_pairs(pairs, embedder, target_precision=0.9, test_fraction=0.5, seed=seed, vectors=vectors)
        print(f"\nsplit seed {seed}:\n{report.summary()}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--embedder", default="minilm", choices=["minilm", "hashing"])
    parser.add_argument("--embeddings-cache", type=Path, default=None)
    args = parser.parse_args()
    await lookup_latency(args.entries, args.queries)
    if not args.skip_quality:
        quality(args.embeddings_cache, args.embedder)


if __name__ == "__main__":
    asyncio.run(main())
