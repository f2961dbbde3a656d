"""The job journal: an append-only JSONL record of finished items, so a job can resume.

The first line names the job (input file fingerprint and the spec). Each later line is one
finished item, written with a single ``write`` on an ``O_APPEND`` file as soon as it completes,
so a crash, Ctrl-C or ``kill -9`` loses at most the items in flight, never a recorded answer. A
torn last line (the process died mid-write) is ignored on resume and that item is simply run again.

On resume, answered items are skipped (never sent again, never paid twice); failed items are tried
again, since they produced no answer. When every item is recorded, the journal is merged into the
output file in input order (written to a temporary file, then renamed) and removed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from inferopt.errors import ConfigError

JOURNAL_VERSION = 1


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def journal_path(output: Path) -> Path:
    return output.with_name(output.name + ".journal")


class Journal:
    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.header = {"inferopt_journal": JOURNAL_VERSION, **header}
        self.records: dict[int, dict[str, Any]] = {}
        self._fd: int | None = None

    def load(self) -> None:
        """Read an existing journal (refusing one that belongs to another job)."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as lines:
            first = lines.readline()
            try:
                found = json.loads(first)
            except ValueError:
                found = None
            if found != self.header:
                raise ConfigError(
                    f"the journal {self.path} belongs to a different job (the input file or options changed); "
                    "run the original command again to finish that job, or pass --restart to discard it"
                )
            for line in lines:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line torn by a crash: that item runs again
                self.records[int(record["index"])] = record

    def answered(self) -> set[int]:
        return {i for i, r in self.records.items() if r.get("status") == "ok"}

    def open(self) -> None:
        new = not self.path.exists()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if new:
            self._write(self.header)

    def _write(self, record: dict[str, Any]) -> None:
        assert self._fd is not None, "open() the journal first"
        os.write(self._fd, (json.dumps(record, ensure_ascii=False) + "\n").encode())

    def record(self, record: dict[str, Any]) -> None:
        self._write(record)
        self.records[int(record["index"])] = record

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def merge_into(self, output: Path, total: int) -> None:
        """Write every item's final record to ``output`` in input order, then drop the journal."""
        temporary = output.with_name(output.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            for index in range(total):
                record = dict(self.records[index])
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, output)
        self.close()
        self.path.unlink(missing_ok=True)


def write_problems(path: Path, problems: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for problem in problems:
            out.write(json.dumps(problem, ensure_ascii=False) + "\n")
            count += 1
    if count == 0:
        path.unlink(missing_ok=True)
    return count
