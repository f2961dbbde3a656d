"""Redis outages at the gateway: down at start, killed mid-run, back up. Never a 500, never a traceback.

The policy (docs/outages.md): the key store and its budgets fail closed (503 JSON with Retry-After,
nothing sent upstream); the shared rate limiter fails open to this process's buckets (a warning,
``x-inferopt-limiter: local``, a metric) unless configured ``on_redis_down: closed``. The outages
are real: a port where nothing listens, and a real ``redis-server`` killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import openai
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.gateway.keys import hash_secret
from inferopt.gateway.keys_redis import RedisKeyStore

USER: Any = [{"role": "user", "content": "Name three rivers of Europe."}]


async def call(gateway: Any, secret: str = "sk-io-none", **extra: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
    """One chat call through the official SDK: (status, headers, error body or {})."""
    async with openai.AsyncOpenAI(base_url=gateway.openai_base_url, api_key=secret, max_retries=0) as client:
        try:
            answer = await client.chat.completions.with_raw_response.create(
                model="fast", messages=USER, max_tokens=20, **extra
            )
        except openai.APIStatusError as exc:
            return exc.status_code, dict(exc.response.headers), exc.response.json()
    return answer.status_code, dict(answer.headers), {}


def assert_store_unavailable(status: int, headers: dict[str, str], body: dict[str, Any], what: str) -> None:
    assert status == 503, body
    assert headers["retry-after"] == "1" and headers["content-type"].startswith("application/json")
    assert body["error"]["code"] == "store_unavailable" and what in body["error"]["message"]
    assert "Traceback" not in str(body)


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing of ours logged an error or a traceback (other libraries' noise from earlier tests aside)."""
    ours = [r for r in caplog.records if r.name.startswith(("inferopt", "uvicorn"))]
    assert not [r for r in ours if r.exc_info or r.levelno >= logging.ERROR]


async def test_key_store_down_at_start_answers_503_json_naming_redis(
    emulator: EmulatorServer, start_gateway: Any, dead_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = dead_redis_url.rsplit(":", 1)[1].split("/")[0]
    gateway = start_gateway(emulator, keys=RedisKeyStore(dead_redis_url))
    before = emulator.stats.requests_total
    for _ in range(3):
        status, headers, body = await call(gateway, "sk-io-some-tenant-secret-123456")
        assert_store_unavailable(status, headers, body, f"key store (Redis at 127.0.0.1:{port})")
        assert "some-tenant-secret" not in str(body)
    async with httpx.AsyncClient() as http:
        models = await http.get(gateway.openai_base_url + "/models", headers={"authorization": "Bearer sk-io-x"})
        metrics = (await http.get(gateway.url + "/metrics")).text
    assert models.status_code == 503 and models.json()["error"]["code"] == "store_unavailable"
    assert 'status="503"} 3' in metrics
    assert emulator.stats.requests_total == before  # fail closed: nothing went upstream
    no_tracebacks(caplog)


async def test_redis_killed_mid_run_fails_closed_then_recovers_with_the_held_settle(
    redis_process: Any, gateway_config: Any, start_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    upstream_config = EmulatorConfig(seed=2, overrides=ProfileOverrides(fixed_latency_s=0.4))
    with EmulatorServer(upstream_config) as upstream:
        limits = {"rpm": 100_000, "redis": redis_process.url, "key_prefix": "outage-test"}
        config = gateway_config(upstream).with_layer("rate_limit", limits, outermost=False)
        admin = RedisKeyStore(redis_process.url)
        key, secret = await admin.create("tenant", budget_usd=5.0)
        entry = f"{admin.prefix}key:{hash_secret(secret)}"
        record = await admin._redis.get(entry)
        store = RedisKeyStore(redis_process.url)
        gateway = start_gateway(config=config, keys=store)
        statuses = [(await call(gateway, secret))[0] for _ in range(2)]
        in_flight = asyncio.create_task(call(gateway, secret))
        await asyncio.sleep(0.2)  # admitted and waiting upstream...
        redis_process.kill()  # ...when Redis dies
        status, _, _ = await in_flight
        statuses.append(status)
        assert statuses == [200, 200, 200]  # the answer in flight is delivered; its settle is held
        assert len(store._unsettled) == 1
        sent = upstream.stats.requests_total
        for _ in range(3):
            assert_store_unavailable(*await call(gateway, secret), "key store (Redis at 127.0.0.1:")
        assert upstream.stats.requests_total == sent  # fail closed: nothing went upstream

        redis_process.start()  # back up, empty (no persistence): put the key back as a restore would
        assert await admin._redis.get(entry) is None
        await admin._redis.set(entry, record)
        for _ in range(40):  # within about a second the gateway tries Redis again
            status, _, body = await call(gateway, secret)
            assert status in (200, 503), body
            if status == 200:
                break
            await asyncio.sleep(0.05)
        assert status == 200
        assert store._unsettled == []  # the held settle went first
        spent, reserved = await admin.spend(key.id)
        assert spent > 0 and reserved == pytest.approx(0, abs=1e-12)
        await admin.aclose()
    no_tracebacks(caplog)


async def test_limiter_fails_open_to_this_process_then_shares_again(
    redis_process: Any, gateway_config: Any, start_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with EmulatorServer(EmulatorConfig(seed=4, overrides=ProfileOverrides(fixed_latency_s=0.0))) as upstream:
        limits = {"rpm": 100_000, "tpm": 10_000_000, "redis": redis_process.url, "key_prefix": "limiter-test"}
        gateway = start_gateway(config=gateway_config(upstream).with_layer("rate_limit", limits, outermost=False))
        status, headers, _ = await call(gateway)
        assert status == 200 and "x-inferopt-limiter" not in headers
        redis_process.kill()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="inferopt.parallel.limits"):
            answers = [await call(gateway) for _ in range(5)]
            assert [(s, h.get("x-inferopt-limiter")) for s, h, _ in answers] == [(200, "local")] * 5
            async with httpx.AsyncClient() as http:
                metrics = (await http.get(gateway.url + "/metrics")).text
            assert "inferopt_gateway_limiter_local_total 5" in metrics
            warnings = [r.getMessage() for r in caplog.records if "rate limiter" in r.getMessage()]
            assert len(warnings) == 1 and "unavailable" in warnings[0]  # one warning per outage, not per call

            redis_process.start()
            calls = 0
            while calls < 40:
                calls += 1
                status, headers, _ = await call(gateway)
                if "x-inferopt-limiter" not in headers:
                    break
                await asyncio.sleep(0.05)
            assert status == 200 and "x-inferopt-limiter" not in headers  # shared again
            assert any("is back" in r.getMessage() for r in caplog.records)
        assert upstream.stats.requests_total == 1 + 5 + calls  # every call answered, none sent twice
    no_tracebacks(caplog)


async def test_limiter_configured_to_fail_closed_answers_503(
    emulator: EmulatorServer, gateway_config: Any, start_gateway: Any, dead_redis_url: str
) -> None:
    limits = {"rpm": 1000, "redis": dead_redis_url, "on_redis_down": "closed"}
    gateway = start_gateway(config=gateway_config(emulator).with_layer("rate_limit", limits, outermost=False))
    before = emulator.stats.requests_total
    status, headers, body = await call(gateway)
    assert_store_unavailable(status, headers, body, "on_redis_down is 'closed'")
    assert emulator.stats.requests_total == before


async def test_cache_fails_open_when_its_redis_dies_and_caches_again_once_back(
    redis_process: Any, gateway_config: Any, start_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with EmulatorServer(EmulatorConfig(seed=6, overrides=ProfileOverrides(fixed_latency_s=0.0))) as upstream:
        config = gateway_config(upstream).with_layer("cache", {"url": redis_process.url, "namespace": "outage"})
        gateway = start_gateway(config=config)

        async def cache_header() -> str | None:
            status, headers, body = await call(gateway, temperature=0)
            assert status == 200, body
            return headers.get("x-inferopt-cache")

        assert [await cache_header(), await cache_header()] == ["miss", "hit"]
        redis_process.kill()
        assert [await cache_header(), await cache_header()] == ["miss", "miss"]  # from upstream, no error
        redis_process.start()  # back, empty
        assert [await cache_header(), await cache_header()] == ["miss", "hit"]
        assert upstream.stats.requests_total == 4  # the four misses; the two hits cost nothing
    no_tracebacks(caplog)


async def test_a_broken_sqlite_key_store_is_a_json_error_not_bare_text(
    emulator: EmulatorServer, start_gateway: Any, tmp_path: Any
) -> None:
    from inferopt.gateway.keys_sqlite import SQLiteKeyStore

    store = SQLiteKeyStore(str(tmp_path / "keys.db"))
    await store.aclose()  # every query now fails (as a file deleted or unreadable would)
    gateway = start_gateway(emulator, keys=store)
    status, headers, body = await call(gateway, "sk-io-whoever-123456789")
    assert status == 500 and headers["content-type"].startswith("application/json")
    assert body["error"]["code"] == "internal" and "see the gateway log" in body["error"]["message"]
