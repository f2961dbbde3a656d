"""``Metered`` records what a user would want to know about each request, through real sinks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from inferopt.errors import RateLimitedError
from inferopt.monitor import Metered, RequestRecord, read_records
from inferopt.monitor.sqlite import MIGRATIONS, SCHEMA_VERSION, read_sqlite
from inferopt.stack import build_stack
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest, ChatResponse, StreamDone, TextDelta, Usage


class ListSink:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []
        self.closed = False

    def write(self, records: list[RequestRecord]) -> None:
        self.records.extend(records)

    def close(self) -> None:
        self.closed = True


def annotated(request: ChatRequest) -> ChatResponse:
    return ChatResponse(
        id="r1",
        model="gpt-4o-mini-2024-07-18",
        content="hello",
        usage=Usage(input_tokens=1000, output_tokens=200, cache_read_tokens=400),
        provider="openai",
        cache="semantic_hit",
        route={"router": "r", "chosen": "cheap", "attempts": []},
        attempts=3,
        annotations={"cache_saved_usd": 0.5},
    )


async def test_records_every_field_of_an_answer() -> None:
    sink = ListSink()
    ticks = iter([10.0, 10.25])
    metered = Metered(FunctionModel(annotated), [sink], clock=lambda: 1_700_000_000.0, timer=lambda: next(ticks))
    request = ChatRequest.of("hi", model="gpt-4o-mini", options={"tenant": "acme", "key_id": "team-a"})
    await metered.complete(request)
    await metered.aclose()
    (record,) = sink.records
    assert sink.closed
    assert record.timestamp == 1_700_000_000.0 and record.latency_s == pytest.approx(0.25)
    assert (record.model_requested, record.model_served, record.provider) == (
        "gpt-4o-mini",
        annotated(request).model,
        "openai",
    )
    assert (record.input_tokens, record.output_tokens, record.cached_tokens) == (1000, 200, 400)
    assert (record.cache, record.route, record.retries) == ("semantic", "cheap", 2)
    assert record.cost_usd == 0.0 and record.saved_usd == 0.5  # a hit costs nothing; the saving is kept
    assert (record.tenant, record.key_id) == ("acme", "team-a")


async def test_a_miss_is_priced_from_the_catalog_and_a_raw_key_is_redacted() -> None:
    sink = ListSink()
    model = FunctionModel(lambda r: "some answer")
    metered = Metered(model, [sink])
    key = "sk-" + "abcdefghijklmnop1234"
    await metered.complete(ChatRequest.of("hi", model="gpt-4o-mini", options={"key_id": key}))
    await metered.complete(ChatRequest.of("hi", model="gpt-4o-mini", options={"request_id": "mine"}))
    metered.flush()
    record, second = sink.records
    assert record.request_id != second.request_id and second.request_id == "mine"
    assert record.cost_usd is not None and record.cost_usd > 0
    assert record.cache == "" and record.retries == 0 and key not in record.key_id
    await metered.aclose()


async def test_errors_are_recorded_by_class_and_re_raised() -> None:
    sink = ListSink()

    def fail(request: ChatRequest) -> str:
        raise RateLimitedError("slow down", status=429, provider="openai", retry_after=1.0)

    metered = Metered(FunctionModel(fail), [sink])
    with pytest.raises(RateLimitedError):
        await metered.complete(ChatRequest.of("hi", model="gpt-4o-mini"))
    await metered.aclose()
    assert [r.error for r in sink.records] == ["RateLimitedError"]
    assert "slow down" not in json.dumps(sink.records[0].to_dict())  # messages never reach records


async def test_stream_records_ttft_and_an_early_close() -> None:
    sink = ListSink()
    clock = iter([0.0, 0.1, 0.5, 0.0, 0.2, 0.3])
    metered = Metered(FunctionModel(lambda r: "x" * 40, chunk_size=8), [sink], timer=lambda: next(clock))
    events = [e async for e in metered.stream(ChatRequest.of("hi", model="gpt-4o-mini"))]
    assert isinstance(events[0], TextDelta) and isinstance(events[-1], StreamDone)
    stream = metered.stream(ChatRequest.of("hi", model="gpt-4o-mini"))
    await stream.__anext__()
    await stream.aclose()
    await metered.aclose()
    done, closed = sink.records
    assert done.streamed and done.ttft_s == pytest.approx(0.1) and done.latency_s == pytest.approx(0.5)
    assert closed.error == "StreamClosedEarly"


async def test_config_stack_writes_sqlite_and_jsonl(tmp_path: Path) -> None:
    db, jsonl = tmp_path / "records.db", tmp_path / "records.jsonl"
    model = build_stack(
        FunctionModel(lambda r: "ok"),
        [{"metered": {"sinks": [f"sqlite://{db}", f"jsonl://{jsonl}"], "flush_interval_s": 0.05}}],
    )
    for _ in range(5):
        await model.complete(ChatRequest.of("hi", model="gpt-4o-mini"))
    await model.aclose()
    from_db, from_jsonl = read_records(db), read_records(jsonl)
    assert len(from_db) == 5 and [r.to_dict() for r in from_db] == [r.to_dict() for r in from_jsonl]
    assert read_records(f"sqlite://{db}", since=from_db[-1].timestamp)[-1].request_id == from_db[-1].request_id


def test_sqlite_migrates_an_old_file_and_refuses_a_newer_one(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    connection = sqlite3.connect(db)
    connection.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    connection.execute(
        "INSERT INTO requests (request_id, timestamp, model_requested, latency_s) VALUES ('a', 1.0, 'm', 0.5)"
    )
    connection.commit()
    connection.close()
    (record,) = read_sqlite(db)  # opening upgrades v1 -> current and keeps the row
    assert record.request_id == "a" and record.key_id == "" and record.streamed is False
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        check.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    from inferopt.errors import ConfigError

    with pytest.raises(ConfigError, match="newer than this inferopt knows"):
        read_sqlite(db)


def test_unknown_sink_and_bad_options_are_clear_errors() -> None:
    from inferopt.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown record sink 'kafka://x'"):
        build_stack(FunctionModel(lambda r: "ok"), [{"metered": {"sink": "kafka://x"}}])
    with pytest.raises(ConfigError, match=r"bad options for 'metered'.*unknown option"):
        build_stack(FunctionModel(lambda r: "ok"), [{"metered": {"sink": "prometheus:", "colour": 1}}])


async def test_a_broken_sink_loses_nothing_for_the_others_and_says_so() -> None:
    class Broken:
        def write(self, records: list[RequestRecord]) -> None:
            raise OSError("disk full")

        def close(self) -> None:
            return None

    good = ListSink()
    metered = Metered(FunctionModel(lambda r: "ok"), [Broken(), good], batch_size=2)
    for _ in range(5):
        await metered.complete(ChatRequest.of("hi", model="gpt-4o-mini"))
    metered.flush()
    assert len(good.records) == 5
    assert metered.writer.errors and "OSError: disk full" in metered.writer.errors[0]
    await metered.aclose()


async def test_a_routers_annotation_and_its_total_cost_are_recorded() -> None:
    def routed(request: ChatRequest) -> ChatResponse:
        response = annotated(request)
        response.route = {"router": "cascade", "chosen": "strong", "attempts": []}
        response.cache = None  # answered upstream
        response.cost_usd = 0.25  # a cascade charges the answer for every attempt
        return response

    sink = ListSink()
    metered = Metered(FunctionModel(routed), [sink])
    await metered.complete(ChatRequest.of("hi", model="auto"))
    await metered.aclose()
    (record,) = sink.records
    assert (record.route, record.cost_usd, record.cache) == ("strong", 0.25, "")


async def test_a_call_limited_locally_while_redis_was_down_says_so_in_its_record(tmp_path: Path) -> None:
    pytest.importorskip("redis", reason="the redis package is not installed (pip install 'inferopt[redis]')")
    import socket

    with socket.socket() as probe:  # a port where nothing listens: the shared limiter's Redis is down
        probe.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    path = tmp_path / "records.db"
    stack = [{"metered": {"sink": f"sqlite://{path}"}}, {"rate_limit": {"rpm": 1000, "redis": dead}}]
    model = build_stack(FunctionModel(lambda r: "ok"), stack)
    await model.complete(ChatRequest.of("hi", model="gpt-4o-mini"))
    await model.aclose()
    (record,) = read_sqlite(path)
    assert record.limiter == "local" and record.ok
