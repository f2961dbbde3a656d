"""Single-flight across real OS processes through Redis: two processes, ten identical requests each,
one upstream call in total."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    import redis
    from inferopt.cache import Cached
    from inferopt.cache.redis import RedisBackend
    from inferopt.testing import FunctionModel
    from inferopt.types import ChatRequest

    url, prefix = sys.argv[1], sys.argv[2]
    SINGLE = sys.argv[3] == "1"
    counter = redis.Redis.from_url(url)

    async def upstream(request):
        counter.incr(prefix + "upstream-calls")  # counted in Redis: visible to the test process
        await asyncio.sleep(1.5)  # long enough for the other process to start and find the lock held
        return "the answer"

    async def main():
        cached = Cached(FunctionModel(upstream), RedisBackend(url, prefix=prefix), single_flight=SINGLE)
        request = ChatRequest.of("same question", model="gpt-4o-mini", temperature=0)
        answers = await asyncio.gather(*(cached.complete(request) for _ in range(10)))
        assert {a.content for a in answers} == {"the answer"}
        await cached.aclose()

    asyncio.run(main())
    """
)


def run_two_processes(redis_url: str, redis_prefix: str, single_flight: bool) -> int:
    """Upstream calls made by two processes sending ten identical requests each."""
    import redis

    flag = "1" if single_flight else "0"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, redis_url, redis_prefix, flag], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    errors = [child.communicate(timeout=60)[1] for child in children]
    client = redis.Redis.from_url(redis_url)
    try:
        calls = int(client.get(redis_prefix + "upstream-calls") or 0)
    finally:
        for key in client.scan_iter(match=redis_prefix + "*"):
            client.delete(key)
        client.close()
    assert [c.returncode for c in children] == [0, 0], errors
    return calls


def test_two_processes_make_one_upstream_call(redis_url: str, redis_prefix: str) -> None:
    assert run_two_processes(redis_url, redis_prefix, single_flight=True) == 1


def test_without_single_flight_every_request_goes_upstream(redis_url: str, redis_prefix: str) -> None:
    # The control: the same set-up without single-flight, so the test above can tell the difference.
    assert run_two_processes(redis_url, redis_prefix, single_flight=False) == 20
