"""A provider's 429 ``Retry-After`` shared by gateway replicas through Redis (``shared_cooldown``).

Two gateways (two servers in this process, each its own app, client and router) share one real
``redis-server``; one emulator counts what reaches the provider. The primary answers ``429:7``
every time, so a replica that asked it anyway would show as one more upstream request.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import openai
import pytest

from inferopt.config import parse_config
from inferopt.emulator import EmulatorServer
from inferopt.routing.cooldowns import PREFIX

KEY_ENV = "INFEROPT_TEST_UPSTREAM_KEY"  # set by the package's conftest
USER: Any = [{"role": "user", "content": "Tell me about the sea."}]


def config(server: EmulatorServer, redis_url: str) -> Any:
    def provider(fault: str) -> dict[str, Any]:
        headers = {"x-emulator-fault": fault}
        return {"kind": "openai", "base_url": server.openai_base_url, "api_key_env": KEY_ENV, "headers": headers}

    router = {"kind": "fallback", "order": ["primary", "backup"], "shared_cooldown": redis_url}
    return parse_config(
        {
            "providers": {"p1": provider("429:7"), "p2": provider("ok")},
            "models": {
                "primary": {"provider": "p1", "model": "gpt-4o-mini"},
                "backup": {"provider": "p2", "model": "gpt-4o"},
            },
            "routers": {"safe": router},
        }
    )


def ask(gateway: Any) -> tuple[str, float]:
    with openai.OpenAI(base_url=gateway.openai_base_url, api_key="sk-any", max_retries=0) as client:
        started = time.monotonic()
        raw = client.chat.completions.with_raw_response.create(model="router/safe", messages=USER)
        return raw.headers["x-inferopt-model"], time.monotonic() - started


def test_a_429_on_one_replica_holds_the_provider_back_on_the_other_at_once(
    emulator: EmulatorServer, start_gateway: Any, redis_process: Any
) -> None:
    first = start_gateway(config=config(emulator, redis_process.url))
    second = start_gateway(config=config(emulator, redis_process.url))
    before = emulator.stats.requests_total
    assert ask(first)[0] == "gpt-4o"  # the primary's 429, then the backup
    assert emulator.stats.requests_total - before == 2
    model, _ = ask(second)
    assert model == "gpt-4o"
    assert emulator.stats.requests_total - before == 3  # the second replica never asked the primary

    import redis

    shared = redis.Redis.from_url(redis_process.url)
    keys = [k.decode() for k in shared.keys(PREFIX + "*")]
    assert keys == [PREFIX + "p1/gpt-4o-mini"]  # provider and model, whatever alias or router named it
    assert 0 < shared.pttl(keys[0]) <= 7000
    shared.close()


def test_a_shared_cooldown_whose_redis_is_down_fails_open(
    emulator: EmulatorServer, start_gateway: Any, dead_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = start_gateway(config=config(emulator, dead_redis_url))
    second = start_gateway(config=config(emulator, dead_redis_url))
    before = emulator.stats.requests_total
    with caplog.at_level(logging.WARNING, logger="inferopt.routing.cooldowns"):
        for gateway in (first, second, first):
            model, elapsed = ask(gateway)
            assert model == "gpt-4o" and elapsed < 2.0  # answered, and not slowed by the dead Redis
    # Each replica held the primary back on its own: its first request asked it, its second did not.
    assert emulator.stats.requests_total - before == 2 + 2 + 1
    warnings = [r for r in caplog.records if "shared cool-downs" in r.getMessage()]
    assert 1 <= len(warnings) <= 2 and "127.0.0.1" in warnings[0].getMessage()  # once per replica, not per call
