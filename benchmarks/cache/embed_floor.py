"""Where the semantic lookup's embedding time goes: fixed cost, cost per token, and what graph fusion buys.

    python benchmarks/cache/embed_floor.py [--runs 300]

Builds all-MiniLM-L6-v2 from the local wheel (float and int8, as the cache does) and, beside it, the
same graph after onnxruntime's BERT fusions (SkipLayerNormalization, BiasGelu), each quantised the
same way; times one question of 1, 8, 16 and 32 tokens on one intra-op thread, interleaved, and fits
``ms = fixed + per_token * tokens`` to the medians. The multiply-accumulates a token costs (6 layers
of 4 x 384 x 384 attention and 2 x 384 x 1536 feed-forward weights) over the per-token time give the
throughput the CPU reaches: the floor a smaller or fused graph of the same model cannot beat.
Runs in about a minute; writes nothing but temporary files.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from inferopt.cache.semantic.onnx_embedder import cpu_session, quantize_file

LENGTHS = (1, 8, 16, 32)
MACS_PER_TOKEN = 6 * (4 * 384 * 384 + 2 * 384 * 1536)


def build_variants(work: Path) -> dict[str, Path]:
    """float, int8 (the default), and both after the BERT fusions (when onnxruntime.transformers loads)."""
    import onnx

    from inferopt.cache.semantic.minilm_graph import build_graph
    from inferopt.cache.semantic.model_files import minilm_model_dir

    paths = {"float": work / "float.onnx"}
    onnx.save(build_graph(minilm_model_dir()), str(paths["float"]))
    try:
        from onnxruntime.transformers import optimizer

        fused = optimizer.optimize_model(str(paths["float"]), model_type="bert", num_heads=12, hidden_size=384)
        stats = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
        print(f"fusions applied: {stats}")
        paths["float, fused"] = work / "fused.onnx"
        fused.save_model_to_file(str(paths["float, fused"]))
    except ImportError as exc:
        print(f"skipped the fused variants: {exc}")
    for name in list(paths):
        target = work / f"{name.replace(', ', '-')}-int8.onnx"
        quantize_file(paths[name], target)  # as the cache's embedder
        paths[name.replace("float", "int8")] = target
    return paths


def time_lengths(sessions: dict[str, Any], runs: int) -> dict[tuple[str, int], list[float]]:
    """Milliseconds per run of every session at every length, the sessions interleaved run by run."""
    times: dict[tuple[str, int], list[float]] = {(name, n): [] for name in sessions for n in LENGTHS}
    for n in LENGTHS:
        ids = np.asarray([[101] + [2000 + i for i in range(n - 2)] + [102]] if n > 1 else [[101]], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        for session in sessions.values():
            session.run(None, feed)  # warm
        for _ in range(runs):
            for name, session in sessions.items():
                start = time.perf_counter()
                session.run(None, feed)
                times[(name, n)].append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="runs per variant and length (default 300)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        paths = build_variants(Path(work))
        sessions = {name: cpu_session(path, threads=1) for name, path in paths.items()}
        times = time_lengths(sessions, args.runs)
    head = "".join(f"{f'{n} tok p50/p99':>16}" for n in LENGTHS)
    print(f"\n{'graph (1 thread)':<16}{head}{'fixed ms':>10}{'ms/token':>10}{'GMAC/s':>8}")
    for name in sessions:
        medians = [float(np.percentile(times[(name, n)], 50)) for n in LENGTHS]
        cells = "".join(
            f"{f'{m:.2f}/{np.percentile(times[(name, n)], 99):.2f}':>16}" for n, m in zip(LENGTHS, medians, strict=True)
        )
        per_token, fixed = np.polyfit(LENGTHS, medians, 1)
        print(f"{name:<16}{cells}{fixed:>10.2f}{per_token:>10.3f}{MACS_PER_TOKEN / per_token / 1e6:>8.0f}")


if __name__ == "__main__":
    main()
