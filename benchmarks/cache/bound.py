"""The semantic cache's false-hit bound on held-out Quora pairs: does the realised rate stay under it?

    python benchmarks/cache/bound.py                        # bounds 0.01-0.15, seeds 0 1 (~10 min)
    python benchmarks/cache/bound.py --seeds 0 1 2 3 --confidence 0.9

For each split seed: 5-fold cross-fitting (inferopt.cache.semantic.calibrate_bound). The scorer is
fitted on 4 folds, the bound's rule picks the threshold from out-of-fold scores of those 4 folds
alone (4 inner folds), and the fifth fold is accepted at it. The table (written as it goes) gives,
per bound and seed, the realised false-hit rate on the held-out pairs (wrong accepted / accepted),
per fold and pooled, and the recall (correct accepted / correct pairs).
"""

from __future__ import annotations

import time

from bench_semantic import DEV_PAIRS, bound_parser, dev_pairset

from inferopt.cache.semantic.calibrate_bound import bound_table, held_out_bound, trees_scorer


def main() -> None:
    parser = bound_parser(__doc__)
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    if not DEV_PAIRS.exists():
        print(f"skipped: {DEV_PAIRS} not present")
        return
    start = time.perf_counter()
    pairs, embedder, data = dev_pairset(args.embedder, args.cache)
    print(f"{len(pairs):,} pairs of {DEV_PAIRS.name}, embedder {embedder.name}, scorer: trees verifier + guards")
    rows = []
    for seed in args.seeds:
        rows += held_out_bound(
            data,
            trees_scorer(embedder.name),
            args.rates,
            confidence=args.confidence,
            folds=args.folds,
            seeds=[seed],
            log=lambda line: print(f"  [{time.perf_counter() - start:6.0f} s] {line}", flush=True),
        )
        print(bound_table(rows), flush=True)  # the table so far: a long run shows its results as it goes
    print(f"(took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
