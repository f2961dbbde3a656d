"""Does the RPM limiter hold, and does it use the allowance? One process, then two sharing Redis.

    python benchmarks/parallel/rate_accuracy.py              # 75 s per scenario, RPM 1200
    python benchmarks/parallel/rate_accuracy.py --seconds 65 --rpm 600

Each scenario drives requests as fast as the limiter admits them (closed loop, concurrency 64) at
a zero-latency emulator in its own process, records the moment each request is sent, and reports
the most requests in any 60-second window (must not exceed the limit) and the sustained rate
after the first minute (should be at least 95% of the limit). With Redis, two processes share one
bucket: their merged timestamps must respect the same single limit.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import multiprocessing
import time
import uuid

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.parallel.limits import Limits, RateLimited
from inferopt.providers.base import Provider
from inferopt.providers.openai import OpenAIChatModel
from inferopt.types import ChatRequest


async def drive(base_url: str, rpm: float, seconds: float, redis_url: str | None, key: str) -> list[float]:
    redis = None
    if redis_url:
        import redis.asyncio as aioredis

        redis = aioredis.from_url(redis_url)
    inner = OpenAIChatModel(Provider("emu", base_url, api_key="sk-bench"))
    model = RateLimited(inner, Limits(rpm=rpm), redis=redis, key_prefix=key)
    sent: list[float] = []
    deadline = time.time() + seconds
    request = ChatRequest.of("ping", model="gpt-4o-mini", max_tokens=1)

    async def worker() -> None:
        while time.time() < deadline:
            limiter, estimate = await model._admit(request)  # the limiter's admission is what we measure
            if time.time() >= deadline:
                await model._settle(limiter, estimate, None)
                return
            sent.append(time.time())
            response = None
            try:
                response = await inner.complete(request)
            finally:
                await model._settle(limiter, estimate, response)

    await asyncio.gather(*(worker() for _ in range(64)))
    await model.aclose()
    return sent


def _process(
    base_url: str, rpm: float, seconds: float, redis_url: str | None, key: str, out: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    out.put(asyncio.run(drive(base_url, rpm, seconds, redis_url, key)))


def max_in_window(stamps: list[float], window: float = 60.0) -> int:
    stamps = sorted(stamps)
    return max((bisect.bisect_left(stamps, t + window) - i for i, t in enumerate(stamps)), default=0)


def report(name: str, stamps: list[float], rpm: float) -> None:
    stamps = sorted(stamps)
    worst = max_in_window(stamps)
    after_first_minute = [t for t in stamps if t >= stamps[0] + 60]
    span = (after_first_minute[-1] - after_first_minute[0]) if len(after_first_minute) > 1 else 0
    sustained = (len(after_first_minute) - 1) / span * 60 if span else float("nan")
    print(
        f"{name:<34} {len(stamps):>7} {worst:>12} {rpm:>7.0f} {'yes' if worst <= rpm else 'NO':>9} "
        f"{sustained:>12.0f} {sustained / rpm:>9.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--rpm", type=float, default=1200.0)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    config = EmulatorConfig(seed=1, overrides=ProfileOverrides(fixed_latency_s=0.0))
    print(
        f"{'scenario':<34} {'sent':>7} {'max in 60 s':>12} {'limit':>7} {'held':>9} {'sustained/min':>12} "
        f"{'of limit':>9}"
    )
    with EmulatorServer(config, subprocess=True) as server:
        stamps = asyncio.run(drive(server.openai_base_url, args.rpm, args.seconds, None, "local"))
        report("one process, local bucket", stamps, args.rpm)
        key = f"bench:{uuid.uuid4()}"
        queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        procs = [
            multiprocessing.Process(
                target=_process, args=(server.openai_base_url, args.rpm, args.seconds, args.redis, key, queue)
            )
            for _ in range(2)
        ]
        for p in procs:
            p.start()
        merged = [t for _ in procs for t in queue.get()]
        for p in procs:
            p.join()
        report("two processes, one Redis bucket", merged, args.rpm)


if __name__ == "__main__":
    main()
