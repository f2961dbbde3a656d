"""False hits at the false-hit bound's thresholds on the adversarial sets (RESULTS_bound.md, section 2).

    PYTHONPATH=src:benchmarks/cache python benchmarks/cache/bound_false_hits.py           # ~5 min
    PYTHONPATH=src:benchmarks/cache python benchmarks/cache/bound_false_hits.py --embedder minilm-float

The verifier (trees + guards) is fitted on all the Quora dev pairs; the bound's rule (one-sided
Clopper-Pearson, 16-point rank grid, Bonferroni, confidence 0.95) picks a threshold from their
out-of-fold scores for each bound. The cache at that threshold is then asked:

- our adversarial pairs (tests/cache/fixtures/semantic_adversarial.csv: numbers, negations,
  swapped roles, other entities): the first question stored, the second asked; every hit is false;
- the 297 MeanCache follow-up questions (../shared/data/semcache/dataset_contextual_queries_*.json)
  in their conversation, their main questions stored: a hit would answer a follow-up from its
  main question; and the same follow-ups sent alone (a new question): a hit on its own main
  question is false, a hit on another stored question is listed to judge.
"""

from __future__ import annotations

import asyncio
import time

from bench_semantic import DEV_PAIRS, bound_calibrations, bound_parser, dev_pairset, false_hits


async def main() -> None:
    parser = bound_parser(__doc__)
    args = parser.parse_args()
    if not DEV_PAIRS.exists():
        print(f"skipped: {DEV_PAIRS} not present")
        return
    start = time.perf_counter()
    pairs, embedder, data = dev_pairset(args.embedder, args.cache)
    print(f"verifier fitted on {len(pairs):,} pairs of {DEV_PAIRS.name}, embedder {embedder.name}", flush=True)
    counts = await false_hits(embedder, bound_calibrations(data, embedder.name, args.rates))
    print(f"\n{'cache':<58}{'false hits (adversarial + follow-up in context + alone on its own main)':>20}")
    for label, (adversarial, in_context, own, _) in counts.items():
        print(f"{label:<58}{adversarial + in_context + own:>8}")
    print(f"(took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
