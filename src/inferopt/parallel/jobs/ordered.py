"""A job's records in input order, from records in any order, in bounded memory.

The journal holds a run's records in the order rows finished. To write the output in input order
without holding a million records, they are sorted in runs of ``chunk`` records, each run spilled
to a temporary file beside the output, and the runs merged (``heapq.merge``) by ``index``. Two
records for one row (a row that failed, then was answered by a batch that ended late) leave the
answer, else the later record.
"""

from __future__ import annotations

import heapq
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from inferopt.parallel.jobs.files import job_file

CHUNK = 10_000


def _index(record: dict[str, Any]) -> int:
    return int(record["index"])


def _spill(records: list[dict[str, Any]], path: Path) -> Path:
    with job_file(path, "write a sort run"), path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def _read(handle: IO[str]) -> Iterator[dict[str, Any]]:
    for line in handle:
        yield json.loads(line)


def in_index_order(records: Iterable[dict[str, Any]], spill_to: Path, chunk: int = CHUNK) -> Iterator[dict[str, Any]]:
    """``records`` sorted by ``index``, one per index; runs spill to ``spill_to.sort-N`` (removed after)."""
    runs: list[Path] = []
    buffer: list[dict[str, Any]] = []
    try:
        for record in records:
            buffer.append(record)
            if len(buffer) >= chunk:
                buffer.sort(key=_index)
                runs.append(_spill(buffer, spill_to.with_name(f"{spill_to.name}.sort-{len(runs)}")))
                buffer = []
        buffer.sort(key=_index)
        with ExitStack() as files:
            streams = [_read(files.enter_context(run.open(encoding="utf-8"))) for run in runs]
            yield from _one_per_index(heapq.merge(*streams, iter(buffer), key=_index))
    finally:
        for run in runs:
            os.unlink(run)


def _one_per_index(records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    held: dict[str, Any] | None = None
    for record in records:
        if held is not None and _index(held) == _index(record):
            if record.get("status") == "ok" or held.get("status") != "ok":
                held = record
            continue
        if held is not None:
            yield held
        held = record
    if held is not None:
        yield held
