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
import statistics
import time
from pathlib import Path

from inferopt.routing.cascade import Cascade, Stage
from inferopt.routing.checks import Verifier
from inferopt.routing.data import read_outcomes
from inferopt.routing.fallback import Balanced, Fallback
from inferopt.routing.learned import KnnRouter
from inferopt.routing.learned_model import LearnedRouter
from inferopt.routing.rules import RuleRouter
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest, Model

REPO = Path(__file__).resolve().parents[2]
REAL = REPO.parent / "shared" / "data" / "routerbench"
FIXTURE = REPO / "tests" / "routing" / "fixtures" / "mini_routerbench.csv"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(model: Model, requests: list[ChatRequest]) -> list[float]:
    out = []
    for request in requests:
        start = time.perf_counter()
        await model.complete(request)
        out.append(time.perf_counter() - start)
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
    await timed(routers["learned kNN"], requests[:50])  # warm up caches and numpy
    results = {name: await timed(model, requests) for name, model in routers.items()}
    base = results["direct (no router)"]
    source = "RouterBench (real prompts)" if REAL.is_dir() else "test fixture"
    print(f"{n} requests per router, kNN trained on {len(train)} {source} prompts")
    print(f"{'router':32} {'p50 ms':>8} {'p99 ms':>8} {'p99 overhead ms':>16} {'x direct (p50)':>15}")
    for name, values in results.items():
        p50, p99 = statistics.median(values) * 1e3, percentile(values, 0.99) * 1e3
        overhead = p99 - percentile(base, 0.99) * 1e3
        ratio = statistics.median(values) / statistics.median(base)
        print(f"{name:32} {p50:8.3f} {p99:8.3f} {overhead:16.3f} {ratio:15.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    asyncio.run(main(parser.parse_args().requests))
