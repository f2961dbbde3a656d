"""Router overhead per request, in-process: each router vs calling the same model directly.

    python benchmarks/routing/overhead.py [--requests 2000]

The target models answer instantly (in-process FunctionModels), so every microsecond measured is the
router's own work: classifying, kNN scoring, checks, breaker bookkeeping, annotations. The learned
router is trained on real RouterBench prompts when ../shared/data is present (long few-shot prompts:
the worst case), else on the small test fixture. Target: p99 overhead under 1 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path

from inferopt.routing.cascade import Cascade, Stage
from inferopt.routing.checks import Verifier
from inferopt.routing.fallback import Balanced, Fallback
from inferopt.routing.learned import KnnRouter
from inferopt.routing.learned_model import LearnedRouter
from inferopt.routing.outcome_files import read_outcomes
from inferopt.routing.rules import RuleRouter
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest, Model

REPO = Path(__file__).resolve().parents[2]
REAL = REPO.parent / "shared" / "data" / "routerbench"
FIXTURE = REPO / "tests" / "routing" / "fixtures" / "mini_routerbench.csv"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(routers: dict[str, Model], requests: list[ChatRequest]) -> dict[str, tuple[list[float], list[float]]]:
    """(wall seconds, CPU seconds) per request of each router, interleaved request by request."""
    out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in routers}
    for request in requests:
        for name, model in routers.items():
            cpu, wall = time.thread_time(), time.perf_counter()
            await model.complete(request)
            out[name][0].append(time.perf_counter() - wall)
            out[name][1].append(time.thread_time() - cpu)
    return out


async def main(n: int) -> None:
    data = read_outcomes(REAL if REAL.is_dir() else FIXTURE)
    train, test = data.split(0.5, seed=0)
    knn = KnnRouter.fit(train, k=100)
    prompts = [test.prompts[i % len(test)] for i in range(n)]
    requests = [ChatRequest.of(p, model="router/x") for p in prompts]
    targets = {m: FunctionModel(lambda r: "B") for m in data.models}
    cheap, strong = data.models[0], data.models[-1]
    routers: dict[str, Model] = {
        "direct (no router)": targets[cheap],
        "rules (built-in classifier)": RuleRouter({"reasoning": strong}, targets, default=cheap),
        "learned kNN": LearnedRouter(knn, targets),
        "cascade (verifier passes)": Cascade([Stage(cheap, Verifier(lambda r, t: True)), Stage(strong)], targets),
        "fallback (healthy primary)": Fallback(targets, [cheap, strong]),
        "balanced (least_busy)": Balanced({cheap: targets[cheap], strong: targets[strong]}, strategy="least_busy"),
    }
    await timed(routers, requests[:50])  # warm up caches and numpy
    load = os.getloadavg()[0]
    results = await timed(routers, requests)
    base_cpu = results["direct (no router)"][1]
    source = "RouterBench (real prompts)" if REAL.is_dir() else "test fixture"
    print(f"{n} requests per router, kNN trained on {len(train)} {source} prompts; load average {load:.1f}")
    print(f"(learned kNN index: {'dense' if knn.index.dense else 'postings'}; target: p99 overhead < 1 ms)")
    header = ("router", "wall p50 ms", "wall p99 ms", "CPU p50 ms", "CPU p99 ms", "CPU p99 overhead ms")
    print(f"{header[0]:30}" + "".join(f"{h:>14}" for h in header[1:4]) + f"{header[4]:>14}{header[5]:>21}")
    for name, (wall, cpu) in results.items():
        cells = [statistics.median(wall), percentile(wall, 0.99), statistics.median(cpu), percentile(cpu, 0.99)]
        overhead = percentile(cpu, 0.99) - percentile(base_cpu, 0.99)
        print(f"{name:30}" + "".join(f"{c * 1e3:14.3f}" for c in cells) + f"{overhead * 1e3:21.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    asyncio.run(main(parser.parse_args().requests))
