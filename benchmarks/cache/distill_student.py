"""A student distilled from all-MiniLM-L6-v2 against the model itself: recall on Quora pairs, embed time.

    python benchmarks/cache/distill_student.py                    # 3 layers, 4 epochs (~30 min the first time)
    python benchmarks/cache/distill_student.py --layers 2 --epochs 2
    python benchmarks/cache/distill_student.py --student DIR      # judge a student made before

The corpus: sentences of the routing data's prompts (RouterBench ARC / MBPP / Winogrande, RouteLLM
MMLU under ../shared/data), 3-40 words each, ~70k; never a Quora question (the pairs it is judged
on, whose text is for evaluation only). The student is kept under --cache and reused; the untrained
cut (the same layers, no training) is judged beside it, so the table shows what training bought.

Per embedder, all int8 on onnxruntime with one thread (the cache's default path): the mean cosine
of its vectors with the teacher's on the 23k Quora questions; the ROC AUC of the plain cosine on the
12k labelled pairs; the most recall any cosine threshold reaches at precision 0.80 and 0.90 (read
with hindsight: what the scores allow, not a rule's choice); the time to embed one real question,
one call each, p50 and p99. The false-hit bound with the student: bound.py --embedder student:DIR.
"""

from __future__ import annotations

import argparse
import glob
import re
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_semantic import DEV_PAIRS, ROOT, dev_vectors
from semantic_latency import percentile, real_questions

from inferopt.cache.semantic.calibrate_bound import curve_recall
from inferopt.cache.semantic.distill import DistillOptions, distill
from inferopt.cache.semantic.embedder import embedder_from_name
from inferopt.cache.semantic.pairs import Pair, read_pairs
from inferopt.routing.data import read_routellm_mmlu, read_routerbench

SHARED = ROOT / ".." / "shared" / "data"


def routing_sentences() -> list[str]:
    """Sentences of 3-40 words out of the routing data's prompts (none when ../shared is absent)."""
    prompts: list[str] = []
    if (SHARED / "routerbench").is_dir():
        prompts += read_routerbench(sorted(glob.glob(str(SHARED / "routerbench" / "*.csv")))).prompts
    if (SHARED / "routellm" / "mmlu").is_dir():
        prompts += read_routellm_mmlu(SHARED / "routellm" / "mmlu").prompts
    found: dict[str, None] = {}
    for prompt in prompts:
        for line in re.split(r"\n+", prompt):
            for sentence in re.split(r"(?<=[.?!])\s+", line.strip()):
                if 3 <= len(sentence.split()) <= 40:
                    found.setdefault(sentence, None)
    return sorted(found)


def student(folder: Path, layers: int, epochs: int) -> Path:
    if (folder / "distilled.json").is_file():
        print(f"(reusing the student in {folder}; delete it to train again)")
        return folder
    texts = routing_sentences()
    start = time.perf_counter()
    report = distill(
        texts,
        folder,
        options=DistillOptions(layers=layers, epochs=epochs),
        log=lambda line: print(f"  [{time.perf_counter() - start:5.0f} s] {line}", flush=True),
    )
    print(f"(distilled in {report.seconds:.0f} s: held-out cosine {report.cosine_before} -> {report.cosine_after})")
    return folder


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="stable")] = np.arange(1, len(scores) + 1)
    positives = labels.sum()
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * (len(labels) - positives)))


def judge(
    label: str, embedder: Any, teacher: dict[str, Any] | None, cache: Path, pairs: list[Pair], questions: list[str]
) -> None:
    texts = sorted({t for a, b, _ in pairs for t in (a, b)})
    vectors = dev_vectors(embedder, texts, cache / f"quora_{embedder.name}.npz")
    agreement = 1.0 if teacher is None else float(np.mean([vectors[t] @ teacher[t] for t in texts]))
    scores = np.asarray([float(vectors[a] @ vectors[b]) for a, b, _ in pairs])
    labels = np.asarray([y for _, _, y in pairs])
    times = []
    for question in questions:
        start = time.perf_counter()
        embedder.embed([question])
        times.append(time.perf_counter() - start)
    print(
        f"{label:<44}{agreement:>8.3f}{auc(scores, labels):>8.3f}{curve_recall(scores, labels, 0.20):>9.3f}"
        f"{curve_recall(scores, labels, 0.10):>9.3f}"
        f"{statistics.median(times) * 1e3:>9.2f}{percentile(times, 0.99) * 1e3:>9.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--student", type=Path, default=None, help="judge this student folder (no training)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "bench_semantic")
    args = parser.parse_args()
    if not DEV_PAIRS.exists() or not (SHARED / "routellm").is_dir():
        print(f"skipped: the Quora pairs ({DEV_PAIRS}) or the routing data ({SHARED}) are not present")
        return
    trained = args.student or student(args.cache / f"student-L{args.layers}-e{args.epochs}", args.layers, args.epochs)
    cut = student(args.cache / f"student-L{args.layers}-e0", args.layers, 0)
    questions = real_questions(1000)
    teacher = embedder_from_name("minilm-int8")
    pairs = read_pairs(DEV_PAIRS)
    texts = sorted({t for a, b, _ in pairs for t in (a, b)})
    teacher_vectors = dev_vectors(teacher, texts, args.cache / f"quora_{teacher.name}.npz")
    print(f"\n{len(pairs):,} pairs of {DEV_PAIRS.name}; int8 on onnxruntime, 1 thread; embed: one real question a call")
    print(f"{'embedder':<44}{'cos/t':>8}{'AUC':>8}{'R@P.80':>9}{'R@P.90':>9}{'p50 ms':>9}{'p99 ms':>9}")
    judge("all-MiniLM-L6-v2 (the teacher, 6 layers)", teacher, None, args.cache, pairs, questions)
    judge(
        f"cut to {args.layers} layers, untrained",
        embedder_from_name(f"student:{cut}"),
        teacher_vectors,
        args.cache,
        pairs,
        questions,
    )
    judge(
        f"student, {args.layers} layers, distilled",
        embedder_from_name(f"student:{trained}"),
        teacher_vectors,
        args.cache,
        pairs,
        questions,
    )


if __name__ == "__main__":
    main()
