"""Token buckets, adaptive concurrency, the RateLimited wrapper and map, without real time passing."""

import asyncio
import uuid

import pytest

from inferopt.errors import RateLimitedError
from inferopt.parallel.adaptive import AdaptiveConcurrency
from inferopt.parallel.limits import Limits, RateLimited
from inferopt.parallel.mapping import map_ordered, map_unordered
from inferopt.parallel.token_bucket import RedisTokenBucket, TokenBucket, per_minute_bucket_params
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_no_sixty_second_window_exceeds_the_limit() -> None:
    clock = FakeClock()
    bucket = TokenBucket.per_minute(600, clock)
    grants: list[float] = []
    for _ in range(3000):  # requests arrive as fast as they are allowed
        wait = bucket.reserve_now(1)
        grants.append(clock.now + wait)
    worst = max(sum(1 for g in grants if start <= g < start + 60) for start in grants)
    assert worst <= 600
    rate = len(grants) / (grants[-1] - grants[0] + 1e-9) * 60
    assert rate >= 0.95 * 600  # sustained throughput within 5% of the limit


def test_reservation_debt_is_fifo_and_adjust_refunds() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=10, capacity=10, clock=clock)
    assert bucket.reserve_now(10) == 0
    assert bucket.reserve_now(5) == pytest.approx(0.5)
    assert bucket.reserve_now(5) == pytest.approx(1.0)  # queued behind the earlier debt
    bucket.adjust_now(10)  # actual usage was lower: give tokens back
    assert bucket.reserve_now(1) == pytest.approx(0.1)


def test_bucket_params_keep_small_limits_sane() -> None:
    rate, capacity = per_minute_bucket_params(1)
    assert capacity + rate * 60 == pytest.approx(1)
    with pytest.raises(ValueError):
        per_minute_bucket_params(0)


async def test_adaptive_concurrency_halves_on_429_and_recovers() -> None:
    clock = FakeClock()
    sem = AdaptiveConcurrency(16, clock=clock, cooldown_s=1.0)
    sem.on_rate_limited()
    sem.on_rate_limited()  # same burst: counted once
    assert sem.limit == 8 and sem.decreases == 1
    clock.now = 2.0
    sem.on_rate_limited()
    assert sem.limit == 4
    for _ in range(100):
        sem.on_success()
    assert 4 < sem.limit <= 16


async def test_adaptive_concurrency_caps_in_flight() -> None:
    sem = AdaptiveConcurrency(3)
    peak = 0

    async def job() -> None:
        nonlocal peak
        async with sem:
            peak = max(peak, sem.in_flight)
            await asyncio.sleep(0.001)

    await asyncio.gather(*(job() for _ in range(20)))
    assert peak == 3 and sem.in_flight == 0


async def test_rate_limited_waits_for_rpm_and_corrects_tpm() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    inner = FunctionModel(lambda r: "ok")
    model = RateLimited(inner, Limits(rpm=60, tpm=100_000), sleep=sleep)
    request = ChatRequest.of("hi", model="gpt-4o-mini", max_tokens=100)
    for _ in range(5):
        await model.complete(request)
    assert len(inner.calls) == 5
    assert waits and all(w > 0 for w in waits)  # 60 rpm allows one burst token, then ~1 per second
    tpm = model.limiter_for("gpt-4o-mini").tpm
    assert isinstance(tpm, TokenBucket)
    # each reservation of prompt+100 was corrected down to the real (small) usage
    assert tpm.tokens > tpm.capacity - 5 * 100


async def test_rate_limited_backs_off_concurrency_on_429() -> None:
    def answer(request: ChatRequest) -> str:
        raise RateLimitedError("slow down", status=429, retry_after=1.0)

    model = RateLimited(FunctionModel(answer), Limits(max_concurrency=8))
    with pytest.raises(RateLimitedError):
        await model.complete(ChatRequest.of("x", model="m"))
    concurrency = model.limiter_for("m").concurrency
    assert concurrency is not None and concurrency.limit == 4 and concurrency.in_flight == 0


async def test_map_keeps_order_and_returns_errors_as_values() -> None:
    async def call(i: int) -> int:
        await asyncio.sleep(0.001 * (10 - i))
        if i == 3:
            raise ValueError("bad item 3")
        return i * i

    results = await map_ordered(call, range(10), concurrency=4)
    assert [r for i, r in enumerate(results) if i != 3] == [i * i for i in range(10) if i != 3]
    assert isinstance(results[3], ValueError)
    seen = [i async for i, _ in map_unordered(call, range(10), concurrency=10)]
    assert sorted(seen) == list(range(10)) and seen != list(range(10))  # finished out of order


async def test_a_slow_consumer_holds_the_workers_back_so_a_crash_loses_at_most_concurrency() -> None:
    """Calls started but not yet handled by the consumer (journaled, in a batch job) never exceed the
    concurrency: a ``kill -9`` then repays at most that many requests."""
    started = 0

    async def call(i: int) -> int:
        nonlocal started
        started += 1
        return i  # instant answers: the consumer is the slow side

    handled, worst = 0, 0
    async for _ in map_unordered(call, range(40), concurrency=4):
        worst = max(worst, started - handled)
        await asyncio.sleep(0.002)  # writing the record
        handled += 1
    assert handled == 40 and worst <= 4


@pytest.fixture
async def redis_client():  # type: ignore[no-untyped-def]
    aioredis = pytest.importorskip("redis.asyncio", reason="redis extra not installed")
    client = aioredis.from_url("redis://127.0.0.1:6379/15")
    try:
        await client.ping()
    except Exception as exc:
        pytest.skip(f"Redis not reachable at 127.0.0.1:6379 ({exc}); start it with redis-server")
    yield client
    await client.aclose()


async def test_redis_bucket_is_shared_across_instances(redis_client) -> None:  # type: ignore[no-untyped-def]
    key = f"test:{uuid.uuid4()}"
    a = RedisTokenBucket(redis_client, key, rate_per_s=1, capacity=2)
    b = RedisTokenBucket(redis_client, key, rate_per_s=1, capacity=2)  # another process, same key
    assert await a.reserve(1) == 0
    assert await b.reserve(1) == 0
    wait = await a.reserve(1)
    assert 0.9 < wait <= 1.0  # the third token is shared debt: one second at 1 token/s
    await b.adjust(1)
    assert await b.reserve(0) == 0


async def test_redis_down_limits_locally_instead_of_failing_requests() -> None:
    aioredis = pytest.importorskip("redis.asyncio", reason="redis extra not installed")
    # Nothing listens on port 1: every shared-bucket call fails the way a Redis outage does.
    down = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    upstream = FunctionModel(lambda r: "ok")
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    limited = RateLimited(upstream, Limits(rpm=60), redis=down, key_prefix=f"t-{uuid.uuid4().hex}", sleep=sleep)
    answers = [await limited.complete(ChatRequest.of(f"q{i}", model="gpt-4o-mini")) for i in range(5)]
    assert [a.content for a in answers] == ["ok"] * 5 and len(upstream.calls) == 5  # fail-open: all answered
    await limited.aclose()
