"""The pieces that keep a million-row job in flat memory: the output merged in order from spilled runs."""

import random
from pathlib import Path

from inferopt.parallel.jobs.identity import PrefixSet, RowKeys
from inferopt.parallel.jobs.ordered import in_index_order
from inferopt.parallel.jobs.summary import LATENCY_SAMPLE, JobStats
from inferopt.parallel.planner.predict import RowEstimate
from inferopt.parallel.planner.repeats import Repeats
from inferopt.parallel.planner.row_table import ABSENT, CACHE, PENDING, RowTable


def test_records_in_any_order_come_out_in_index_order_through_spilled_runs_which_are_removed(tmp_path: Path) -> None:
    records = [{"index": i, "status": "ok", "answer": f"a{i}"} for i in range(1000)]
    random.Random(1).shuffle(records)
    out = list(in_index_order(records, tmp_path / "out.jsonl", chunk=64))
    assert [r["index"] for r in out] == list(range(1000)) and out[7]["answer"] == "a7"
    assert list(tmp_path.iterdir()) == []  # the sort runs are gone


def test_a_row_recorded_twice_keeps_its_answer(tmp_path: Path) -> None:
    records = [{"index": 0, "status": "ok"}, {"index": 1, "status": "ok"}, {"index": 1, "status": "error"}]
    assert [r["status"] for r in in_index_order(records, tmp_path / "o", chunk=2)] == ["ok", "ok"]


def test_copies_of_a_line_are_numbered_and_other_rows_keep_bare_keys() -> None:
    keys = RowKeys()
    got = [keys.key({"id": 1}), keys.key({"id": 2}), keys.key({"id": 1}), keys.key({"id": 1})]
    assert got[0] != got[1] and got[2] == got[0] + "#2" and got[3] == got[0] + "#3"


def test_latency_percentiles_come_from_a_bounded_sample_and_the_sum_is_exact() -> None:
    stats = JobStats()
    usage = {"input_tokens": 1, "output_tokens": 1, "cache_read_tokens": 0}
    for _ in range(LATENCY_SAMPLE + 5000):
        stats.count({"status": "ok", "usage": usage, "cost_usd": 0.0, "latency_s": 0.001, "attempts": 1})
    assert len(stats.latencies) == LATENCY_SAMPLE and abs(stats.sequential_s - 105.0) < 1e-6


def test_the_prefix_set_grows_and_says_what_it_held_already() -> None:
    prefixes = PrefixSet(capacity=2)
    rng = random.Random(2)
    values = [rng.getrandbits(64) for _ in range(5000)]
    assert all(prefixes.add(v) for v in values) and len(prefixes) == 5000
    assert not any(prefixes.add(v) for v in values[::7])


def test_repeats_give_the_first_copy_and_hand_waiting_copies_its_answer_once() -> None:
    repeats = Repeats()
    assert repeats.first_of("k1", 0) is None and repeats.first_of("k2", 1) is None
    assert repeats.first_of("k1", 5) == 0  # row 5 asks what row 0 asked
    repeats.wait("k1", (5, "r5", "key5"))
    assert repeats.answer_of("k1") is None
    assert repeats.answered("k1", {"status": "ok", "answer": "yes"}) == [(5, "r5", "key5")]
    assert repeats.answered("k1", {"status": "ok", "answer": "yes"}) == []  # handed on once
    assert repeats.answer_of("k1") == {"status": "ok", "answer": "yes"}
    repeats.close()


def test_the_row_table_keeps_states_and_tokens_by_index_and_splits_usage_in_input_order() -> None:
    table = RowTable()
    for index, state in ((3, PENDING), (0, PENDING), (1, CACHE), (7, PENDING)):
        table.add(RowEstimate(index, 10 * (index + 1), 2, 1), state)
    assert table.state(2) == ABSENT and table.state(99) == ABSENT and table.count(PENDING) == 3
    assert list(table.indexes(PENDING)) == [0, 3, 7]
    head, tail = table.usage(PENDING, first=2)
    assert (head.input_tokens, head.output_tokens, head.cache_read_tokens) == (10 + 40, 4, 2)
    assert tail.input_tokens == 80 and table.estimate(3) == RowEstimate(3, 40, 2, 1)
