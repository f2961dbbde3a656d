"""Rerunning ``inferopt batch run`` never pays twice for an answer: requests counted on the emulator.

Each test runs the CLI as a user does (a subprocess over real HTTP to an emulator) and counts what
the emulator was sent: a finished job's rerun sends nothing, a rerun after failures sends exactly
the failed rows, a changed job stops before its first request, a torn journal repays one row.
"""

import errno
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmark_resume import batch, config_for, finish, read_output, write_rows

from inferopt.emulator import EmulatorConfig, EmulatorServer, FaultConfig, ProfileOverrides
from inferopt.errors import JobFileError
from inferopt.parallel.jobs import output as output_module
from inferopt.parallel.jobs.journal import Journal


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=3, overrides=ProfileOverrides(fixed_latency_s=0.01))) as running:
        yield running


def _args(server: EmulatorServer, folder: Path, *extra: str) -> tuple[str, ...]:
    return ("in.jsonl", "-o", "out.jsonl", "--config", str(config_for(server, folder)), "-c", "8", *extra)


def test_rerun_of_a_finished_job_sends_nothing_and_says_so(server: EmulatorServer, tmp_path: Path) -> None:
    write_rows(tmp_path / "in.jsonl", 40, bad_lines={3: "{broken"})
    code, err = finish(batch(tmp_path, *_args(server, tmp_path)))
    assert code == 0, err
    assert server.stats.requests_total == 40
    first = (tmp_path / "out.jsonl").read_bytes()
    code, err = finish(batch(tmp_path, *_args(server, tmp_path)))
    assert code == 0, err
    assert server.stats.requests_total == 40  # the rerun sent nothing
    assert "nothing to do" in err and "all 41 rows" in err and "40 answered" in err and "1 invalid" in err
    assert (tmp_path / "out.jsonl").read_bytes() == first  # the output is untouched


def test_rerun_after_failures_sends_exactly_the_failed_rows(tmp_path: Path) -> None:
    n = 60
    write_rows(tmp_path / "in.jsonl", n)
    failing = EmulatorConfig(
        seed=7, overrides=ProfileOverrides(fixed_latency_s=0.01), faults=FaultConfig(error_rate=0.3)
    )
    with EmulatorServer(failing) as flaky:
        code, err = finish(batch(tmp_path, *_args(flaky, tmp_path, "--max-attempts", "1")))
        assert code == 0, err
    rows = read_output(tmp_path / "out.jsonl")
    failed = {r["id"] for r in rows if r["status"] == "error"}
    answered = {r["id"]: r["answer"] for r in rows if r["status"] == "ok"}
    assert 0 < len(failed) < n, "the faults should fail some rows, not all"
    with EmulatorServer(EmulatorConfig(seed=7, overrides=ProfileOverrides(fixed_latency_s=0.01))) as healthy:
        code, err = finish(batch(tmp_path, *_args(healthy, tmp_path)))
        assert code == 0, err
        assert healthy.stats.requests_total == len(failed)  # answered rows were not paid again
    assert f"{n - len(failed)} rows already answered are kept" in err
    rerun = read_output(tmp_path / "out.jsonl")
    assert [r["id"] for r in rerun] == [f"r{i}" for i in range(n)] and all(r["status"] == "ok" for r in rerun)
    assert {r["id"]: r["answer"] for r in rerun if r["id"] in answered} == answered  # earlier answers kept


def test_inserted_and_reordered_rows_keep_their_answers(server: EmulatorServer, tmp_path: Path) -> None:
    write_rows(tmp_path / "in.jsonl", 20)
    assert finish(batch(tmp_path, *_args(server, tmp_path)))[0] == 0
    lines = (tmp_path / "in.jsonl").read_text().splitlines()
    new = [json.dumps({"id": "new1", "text": "a new review"}), json.dumps({"id": "new2", "text": "another one"})]
    (tmp_path / "in.jsonl").write_text("\n".join([new[0], *reversed(lines), new[1]]) + "\n")
    code, err = finish(batch(tmp_path, *_args(server, tmp_path)))
    assert code == 0, err
    assert server.stats.requests_total == 22  # only the two new rows were sent
    ids = [r["id"] for r in read_output(tmp_path / "out.jsonl")]
    assert ids == ["new1", *[f"r{i}" for i in reversed(range(20))], "new2"]  # the new input order


def test_a_changed_model_or_template_stops_before_any_request(server: EmulatorServer, tmp_path: Path) -> None:
    write_rows(tmp_path / "in.jsonl", 10)
    assert finish(batch(tmp_path, *_args(server, tmp_path, "--max-tokens", "20")))[0] == 0
    code, err = finish(batch(tmp_path, *_args(server, tmp_path, "--max-tokens", "40")))
    assert code == 1 and "already answers 10 of these rows under different settings" in err
    assert "max_tokens 20 -> 40" in err and "--restart" in err and "-o" in err and "Traceback" not in err
    code, err = finish(batch(tmp_path, *_args(server, tmp_path, "--max-tokens", "20", "--template", "Say: {text}")))
    assert code == 1 and "the prompt" in err
    code, err = finish(batch(tmp_path, *_args(server, tmp_path, "--max-tokens", "20", "--model", "emu/gpt-4o")))
    assert code == 1 and "'emu/gpt-4o-mini' -> 'emu/gpt-4o'" in err
    assert server.stats.requests_total == 10  # none of the refused reruns sent anything
    code, err = finish(batch(tmp_path, *_args(server, tmp_path, "--max-tokens", "40", "--restart")))
    assert code == 0, err
    assert server.stats.requests_total == 20  # --restart pays again, as it says


def test_a_torn_journal_line_repays_only_its_own_row(tmp_path: Path) -> None:
    n = 40
    slow = EmulatorConfig(seed=4, overrides=ProfileOverrides(fixed_latency_s=0.2))
    with EmulatorServer(slow) as server:
        write_rows(tmp_path / "in.jsonl", n)
        args = (*_args(server, tmp_path)[:-2], "-c", "2")
        code, err = finish(batch(tmp_path, *args, "--deadline", "1s"))
        assert code == 0, err
        assert "deadline    reached:" in err
        first_run = server.stats.requests_total
        journal = tmp_path / "out.jsonl.journal"
        data = journal.read_bytes()
        journal.write_bytes(data[: len(data) - 40])  # a write cut short by kill -9: the last line torn
        code, err = finish(batch(tmp_path, *args))
        assert code == 0, err
        assert "journal     repaired: cut a torn last line" in err
        assert 0 < first_run < n and server.stats.requests_total == n + 1  # the torn row, once more
    rows = read_output(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(n)] and all(r["status"] == "ok" for r in rows)


def test_cache_answers_repeated_prompts_once_at_any_temperature(server: EmulatorServer, tmp_path: Path) -> None:
    # 300 rows, 30 distinct prompts, temperature 0.7: 30 upstream requests, the summary says what was saved.
    rows = [json.dumps({"id": f"r{i}", "text": f"prompt {i % 30}"}) for i in range(300)]
    (tmp_path / "in.jsonl").write_text("\n".join(rows) + "\n")
    cache = ("--cache", f"sqlite:///{tmp_path / 'cache.db'}", "--temperature", "0.7", "-c", "1")
    code, err = finish(batch(tmp_path, *_args(server, tmp_path)[:-2], *cache))
    assert code == 0, err
    assert server.stats.requests_total == 30
    assert "cache       270 hits, 30 misses: $" in err and "saved" in err
    out = read_output(tmp_path / "out.jsonl")
    assert all(r["answer"] == out[i % 30]["answer"] for i, r in enumerate(out))
    code, err = finish(
        batch(tmp_path, *_args(server, tmp_path)[:-2], *cache, "--cache-policy", "deterministic", "-o", "d.jsonl")
    )
    assert code == 0, err
    assert server.stats.requests_total == 330  # temperature 0.7 without a seed is not cached under this policy
    assert "300 not cacheable under the cache policy" in err


def test_an_unwritable_output_is_one_line_naming_path_and_fix(server: EmulatorServer, tmp_path: Path) -> None:
    write_rows(tmp_path / "in.jsonl", 5)
    code, err = finish(
        batch(tmp_path, "in.jsonl", "-o", "in.jsonl/out.jsonl", "--config", str(config_for(server, tmp_path)))
    )
    assert code == 1 and "Traceback" not in err
    assert "in.jsonl/out.jsonl" in err and "not a folder" in err and "-o" in err
    assert server.stats.requests_total == 0  # it fails before the first request, not after paying for it


def test_a_read_only_or_full_disk_keeps_the_journal_and_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(code: int):  # type: ignore[no-untyped-def]
        def replace(src: object, dst: object) -> None:
            raise OSError(code, "refused", str(dst))

        return replace

    monkeypatch.setattr(output_module.os, "replace", refuse(errno.EROFS))
    with pytest.raises(JobFileError, match="read-only; write the output to a writable folder with -o"):
        output_module.write_output(tmp_path / "out.jsonl", [{"row_key": "a"}])
    monkeypatch.setattr(output_module.os, "replace", refuse(errno.ENOSPC))
    with pytest.raises(JobFileError, match="disk is full; free some space, then run the same command again"):
        output_module.write_output(tmp_path / "out.jsonl", [{"row_key": "a"}])
    assert not list(tmp_path.iterdir())  # no partial output and no temporary file left behind


def test_a_journal_reopened_after_a_torn_write_starts_its_next_record_on_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "j"
    first = Journal(path, {"spec": {}})
    first.open()
    first.record({"row_key": "a", "status": "ok"})
    first.close()
    with path.open("ab") as handle:
        handle.write(b'{"row_key": "b", "sta')  # killed mid-write
    second = Journal(path, {"spec": {}})
    second.load()
    assert second.repaired == len(b'{"row_key": "b", "sta') and set(second.records) == {"a"}
    second.open()
    second.record({"row_key": "c", "status": "ok"})
    second.close()
    third = Journal(path, {"spec": {}})
    third.load()
    assert set(third.records) == {"a", "c"} and third.repaired == 0  # c was not glued to the fragment
