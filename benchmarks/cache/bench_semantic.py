"""Semantic cache: precision/recall on the Quora dev pairs, false hits, lookup latency at 100k entries.

    python benchmarks/cache/bench_semantic.py                  # default: model-free methods, seed 0, latency (<20 min)
    python benchmarks/cache/bench_semantic.py --full           # + the fine-tuned cross-encoder, seeds 0 1 (~1.5 h)
    python benchmarks/cache/bench_semantic.py --skip-quality   # latency only

The default run prints what it skipped. The first run on a machine also embeds the 23k Quora
questions once (minutes; kept under --cache). Each fold's figures are printed as it finishes, so a
long run shows its table as it goes. The false-hit bound's evaluation: benchmarks/cache/bound.py.

Whatever is reusable is kept under --cache (default .cache/bench_semantic, git-ignored): the
question embeddings and every fine-tuned cross-encoder (reused when the pairs and options match),
so a rerun takes minutes.

1) Quality: ``calibrate_pairs`` on ../shared/data/semcache/dataset_public_val.csv by 5-fold
   cross-fitting, two split seeds (see inferopt.cache.semantic.calibrate); every figure is on
   held-out pairs, every method measured on the same ones: plain cosine, cosine + guards, the
   trees verifier (fitted on the 4 training folds, threshold by inner validation on them), and the
   re-ranker (cross-encoder and trees fitted on 80% of the training folds, their stack and its
   threshold on the other 20%: inferopt.cache.semantic.calibrate_rerank), and its cross-encoder
   alone on the same slices.
2) False hits: the calibrations fitted on all dev pairs and the uncalibrated cache (cosine 0.977 +
   guards) on our adversarial pairs (tests/cache/fixtures/semantic_adversarial.csv) and on the 297
   MeanCache follow-up questions, asked in their conversation and alone.
3) Latency: 100,000 entries in one context (the worst case: every entry is a candidate), random
   unit vectors of dimension 384 standing in for stored questions; a lookup = index search (top 5)
   + guards + verifier (boosted trees of the default size) on the candidates, + the cross-encoder
   on the 5 candidates (texts no guard vetoes, so it scores all 5: the slow path). The model's own
   time to embed one question is measured separately and added. Then the same 100k entries are
   written to a SQLite index file and loaded back (a restarted process).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from semantic_latency import ask, lookup_latency

from inferopt.cache.semantic import SemanticCache
from inferopt.cache.semantic.bound import choose_threshold
from inferopt.cache.semantic.calibrate import (
    Calibration,
    CalibrationReport,
    Reranking,
    calibrate_pairs,
    fit_out_of_fold,
)
from inferopt.cache.semantic.cross_encoder import CrossEncoder, FineTuning, fine_tune
from inferopt.cache.semantic.embedder import MINILM_NAMES, Embedder, Vectors, embedder_from_name
from inferopt.cache.semantic.index import VectorIndex
from inferopt.cache.semantic.pairs import PairSet, embed_texts, read_pairs, threshold_for
from inferopt.types import Message

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".." / "shared" / "data" / "semcache"
DEV_PAIRS = DATA / "dataset_public_val.csv"
FOLLOW_UPS = ("dataset_contextual_queries_contextual_queries.json", "dataset_contextual_queries_d1.json")
ADVERSARIAL = ROOT / "tests" / "cache" / "fixtures" / "semantic_adversarial.csv"
DIM = 384


class LookupEmbedder:
    """Vectors computed beforehand in one batch (fast), looked up by text."""

    def __init__(self, name: str, vectors: dict[str, Any]) -> None:
        self.name, self.dim, self.vectors = name, DIM, vectors

    def embed(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self.vectors[t] for t in texts])


def load_embedder(name: str) -> Embedder:
    """``minilm``: the default (int8 on onnxruntime where installed), or a named variant, or ``hashing``."""
    return embedder_from_name(name)


def dev_vectors(embedder: Embedder, texts: list[str], cache: Path) -> dict[str, Any]:
    if cache.exists():
        stored = np.load(cache, allow_pickle=False)
        vectors = dict(zip(stored["texts"].tolist(), stored["vectors"], strict=True))
        if set(texts) <= set(vectors):
            return vectors
    start = time.perf_counter()
    vectors = embed_texts(embedder, texts)
    print(f"(embedded {len(texts):,} questions in {time.perf_counter() - start:.0f} s)")
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, texts=np.asarray(texts), vectors=np.stack([vectors[t] for t in texts]))
    return vectors


def bound_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every bound benchmark shares: the rates to bound, the embedder, the vector cache."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.01, 0.02, 0.05, 0.1, 0.15])
    parser.add_argument(
        "--embedder", default="minilm", help=f"{', '.join(MINILM_NAMES)}, student:DIR (a distilled student) or hashing"
    )
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "bench_semantic")
    return parser


def dev_pairset(embedder_name: str, cache: Path) -> tuple[list[tuple[str, str, bool]], Embedder, PairSet]:
    """The labelled dev pairs, the embedder and their vectors (cached in ``cache``): the bound benchmarks' inputs."""
    pairs = read_pairs(DEV_PAIRS)
    embedder = load_embedder(embedder_name)
    texts = sorted({t for a, b, _ in pairs for t in (a, b)})
    return pairs, embedder, PairSet.build(pairs, dev_vectors(embedder, texts, cache / f"quora_{embedder.name}.npz"))


def index_recall(vectors: dict[str, Any], queries: list[str], lists: int = 312) -> None:
    """How often the clustered index finds what the exact scan finds, on real question vectors.

    The 23k Quora questions are cut into ``lists`` lists (as many as 100k entries get), so the
    index scans the same share of them as it does at 100k."""
    texts = sorted(vectors)
    index = VectorIndex(DIM, cluster_from=1, rows_per_list=max(1, len(texts) // lists))
    index.add_many(np.stack([vectors[t] for t in texts]), list(range(len(texts))))
    row_of = {t: i for i, t in enumerate(texts)}
    same = total = near_found = near = 0
    for text in queries:
        own = row_of[text]
        exact = [(i, c) for i, c in index.search(vectors[text], 6, exact=True) if i != own][:5]
        found = {i for i, _ in index.search(vectors[text], 6) if i != own}
        same += sum(i in found for i, _ in exact)
        total += len(exact)
        near += sum(c >= 0.8 for _, c in exact)
        near_found += sum(c >= 0.8 and i in found for i, c in exact)
    print(
        f"(index recall on {len(texts):,} real question vectors, {index.probe} of {index.lists} lists scanned: "
        f"{same / total:.4f} of the exact top-5 found; {near_found / max(near, 1):.4f} of those with cosine >= 0.8, "
        f"{near:,} rows)"
    )


def quality_table(report: CalibrationReport) -> None:
    seeds = sorted({seed for seed, _ in report.pooled})
    print("\nheld-out precision / recall per fold, and pooled over the folds of a seed:")
    print(f"{'method':<18}{'seed':<6}{'per fold: precision':>36}{'recall':>36}{'pooled P':>10}{'pooled R':>10}")
    for name in report.methods:
        for seed in seeds:
            point = report.pooled[(seed, name)]
            folds = [f.results[name] for f in report.folds if f.seed == seed]
            precision = " ".join(f"{p.precision:.3f}" for p in folds)
            recall = " ".join(f"{p.recall:.3f}" for p in folds)
            print(f"{name:<18}{seed:<6}{precision:>36}{recall:>36}{point.precision:>10.3f}{point.recall:>10.3f}")
    print(f"\n{'method':<18}{'mean precision (min-max over seeds)':>38}{'mean recall (min-max)':>30}")
    for name in report.methods:
        (p, p_lo, p_hi), (r, r_lo, r_hi) = report.spread(name, "precision"), report.spread(name, "recall")
        print(f"{name:<18}{f'{p:.3f} ({p_lo:.3f}-{p_hi:.3f})':>38}{f'{r:.3f} ({r_lo:.3f}-{r_hi:.3f})':>30}")
    target = report.calibration.target_precision
    print(f"\nthe held-out scores' curve (each seed's folds together): the most recall at precision >= {target:.2f}")
    print("(read off the held-out labels, so no method could pick this threshold: it measures the scores)")
    print(f"{'method':<18}" + "".join(f"{f'seed {seed}: P / R':>20}" for seed in seeds))
    for name in (name for name in report.methods if (seeds[0], name) in report.curve):
        cells = [report.curve[(seed, name)] for seed in seeds]
        print(f"{name:<18}" + "".join(f"{f'{c.precision:.3f} / {c.recall:.3f}':>20}" for c in cells))


async def false_hits(
    embedder: Embedder, calibrations: dict[str, Calibration | None]
) -> dict[str, tuple[int, int, int, int]]:
    """Per cache: (adversarial hits, follow-up hits in context, follow-up alone on its own main
    question, alone on another stored question); the table printed as it goes."""
    with open(ADVERSARIAL, newline="") as handle:
        adversarial = list(csv.DictReader(handle))
    conversations = [c for name in FOLLOW_UPS for c in json.loads((DATA / name).read_text())]
    texts = [r[k] for r in adversarial for k in ("question1", "question2")]
    texts += [c[k] for c in conversations for k in ("Main Query", "Follow-Up Query")]
    fixed = LookupEmbedder(embedder.name, embed_texts(embedder, texts))
    print(f"\n2) false hits: {len(adversarial)} adversarial pairs, {len(conversations)} follow-up questions")
    print("follow-up alone: sent without its history, i.e. a new question: hits on its own main question / on")
    print("another stored question (another conversation's main question: often a true paraphrase)")
    print(f"{'cache':<58}{'adversarial':>12}{'follow-up in context':>22}{'follow-up alone':>17}")
    served: dict[str, list[tuple[str, str]]] = {}
    counts = {}
    for label, cal in calibrations.items():
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
            if found is not None:
                served.setdefault(label, []).append((c["Follow-Up Query"], found.question))
        print(f"{label:<58}{hits:>12}{in_context:>22}{f'{own} / {other}':>17}", flush=True)
        counts[label] = (hits, in_context, own, other)
    for label, hits_alone in served.items():  # to judge them: a true paraphrase, or a wrong answer?
        print(f"follow-ups alone served by {label}:")
        for follow_up, stored in hits_alone:
            print(f"  {follow_up!r} <- {stored!r}")
    return counts


def bound_calibrations(data: PairSet, embedder: str, rates: Sequence[float]) -> dict[str, Calibration | None]:
    """The uncalibrated cache, the verifier at target precision 0.90, and the verifier at the false-hit
    bound's threshold for each rate (the rule on all the pairs' out-of-fold scores, confidence 0.95)."""
    verifier, oof, _ = fit_out_of_fold(data, np.arange(len(data.labels)), embedder=embedder, inner_folds=4, seed=0)
    threshold = threshold_for(oof, data.labels, 0.9)
    calibrations: dict[str, Calibration | None] = {
        "cosine 0.977 + guards": None,
        "calibrated verifier + guards": Calibration(embedder, threshold, verifier),
    }
    for rate in rates:
        chosen = choose_threshold(oof, data.labels, rate)
        label = f"bound {rate:.2f} (threshold {chosen.threshold:.3f}, {chosen.accepted} of the pairs)"
        calibrations[label] = Calibration(embedder, chosen.threshold, verifier)
    return calibrations


async def quality(args: argparse.Namespace) -> CrossEncoder | None:
    """Parts 1 and 2; the final calibration's cross-encoder (for part 3's timing), if one was fitted."""
    if not DEV_PAIRS.exists():
        print(f"\n1) quality skipped: {DEV_PAIRS} not present")
        return None
    pairs = read_pairs(DEV_PAIRS)
    embedder = load_embedder(args.embedder)
    texts = sorted({t for a, b, _ in pairs for t in (a, b)})
    vectors = dev_vectors(embedder, texts, args.cache / f"quora_{embedder.name}.npz")
    index_recall(vectors, [a for a, _, _ in pairs[:3000]])
    print(f"\n1) precision/recall on {DEV_PAIRS.name} ({len(pairs):,} pairs), embedder {embedder.name}")
    reranking = None
    if args.no_cross_encoder:
        print("(skipped: the fine-tuned cross-encoder re-ranker, ~1 h; run with --full to include it)")
    else:
        options = FineTuning(epochs=args.epochs)
        print(f"cross-encoder: {options}; models kept under {args.cache}")
        reranking = Reranking(args.cache / "cross-encoder-all-pairs", options, work_dir=args.cache / "cross-encoders")
    start = time.perf_counter()
    report = calibrate_pairs(
        pairs,
        embedder,
        target_precision=0.9,
        folds=args.folds,
        seeds=args.seeds,
        vectors=vectors,
        reranking=reranking,
        log=lambda line: print(f"  [{time.perf_counter() - start:6.0f} s] {line}", flush=True),
    )
    print(report.summary())
    quality_table(report)
    print(f"(cross-fitting and the final fit took {time.perf_counter() - start:.0f} s)")
    calibrations = bound_calibrations(PairSet.build(pairs, vectors), embedder.name, (0.05, 0.10, 0.15))
    if reranking is not None:
        calibrations["calibrated re-ranker + guards"] = report.calibration
    await false_hits(embedder, calibrations)
    reranker = report.calibration.reranker
    return None if reranker is None else reranker.cross_encoder


def timing_cross_encoder(cache: Path) -> CrossEncoder | None:
    """Without part 1's model: a cross-encoder of the same size after one training step (timing only)."""
    try:
        pairs = [(f"how do i fix problem {i}?", f"how can i fix problem {i}?") for i in range(8)]
        return fine_tune(pairs, [1, 0] * 4, cache / "timing-cross-encoder", FineTuning(epochs=1, batch_size=8))
    except Exception as exc:
        print(f"(cross-encoder time not measured: {exc})")
        return None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--full", action="store_true", help="everything: the cross-encoder re-ranker too, seeds 0 and 1 (~1.5 h)"
    )
    parser.add_argument("--no-cross-encoder", action="store_true", help="(the default) only the model-free methods")
    parser.add_argument("--embedder", default="minilm", choices=[*MINILM_NAMES, "hashing"])
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "bench_semantic")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="split seeds (default 0; --full: 0 1)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=FineTuning().epochs)
    args = parser.parse_args()
    args.no_cross_encoder = not args.full
    if args.seeds is None:
        args.seeds = [0, 1] if args.full else [0]
        if not args.full and not args.skip_quality:
            print("(skipped: split seed 1; --seeds 0 1 or --full to include it)")
    start = time.perf_counter()
    cross_encoder = None if args.skip_quality else await quality(args)
    if not args.skip_latency:
        if cross_encoder is None and not args.no_cross_encoder:
            cross_encoder = timing_cross_encoder(args.cache)
        if cross_encoder is None:
            print("(skipped: the cross-encoder's lookup latency; --full to include it)")
        await lookup_latency(args.entries, args.queries, cross_encoder)
    print(f"\n(whole benchmark: {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
