"""The job journal: an append-only JSONL record of finished rows, so a job can resume.

The first line is a header (the journal's version and the job's spec). Each later line is one
finished row keyed by its durable identity (``row_key``, see ``identity.py``), written with a
single ``write`` on an ``O_APPEND`` file as soon as it completes, so a crash, Ctrl-C or ``kill -9``
loses at most the rows in flight, never a recorded answer.

A process killed mid-write leaves a torn last line. Opening the journal repairs it: the file is
cut back to its last whole line (that one row runs again), so the next record starts on a line of
its own instead of being glued to the fragment and lost too. ``repaired`` says it happened.

A header with ``replaces_output`` (written by ``--restart``) means the output file beside it is
superseded: its answers are not reused, and it is replaced when the job finishes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from inferopt.errors import JobChangedError
from inferopt.parallel.jobs.files import job_file

JOURNAL_VERSION = 2


def journal_path(output: Path) -> Path:
    return output.with_name(output.name + ".journal")


class Journal:
    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.header = {"inferopt_journal": JOURNAL_VERSION, **header}
        self.records: dict[str, dict[str, Any]] = {}  # what earlier runs recorded (read by load)
        self.opened_at = 0  # the journal's size when this run opened it: its own records follow
        self.repaired = 0  # bytes of a torn last line cut off on load
        self.replaces_output = False
        self._fd: int | None = None

    def load(self) -> None:
        """Read an existing journal, repairing a torn tail (refusing one of another version)."""
        if not self.path.exists():
            return
        with job_file(self.path, "read the journal"):
            data = self.path.read_bytes()
            whole = data.rfind(b"\n") + 1
            if whole < len(data):
                os.truncate(self.path, whole)
                self.repaired = len(data) - whole
        lines = data[:whole].decode("utf-8", errors="replace").splitlines()
        header = _json(lines[0]) if lines else None
        if not isinstance(header, dict) or header.get("inferopt_journal") != JOURNAL_VERSION:
            raise JobChangedError(
                f"the journal {self.path} belongs to a different job or an older inferopt (its rows have no "
                "identities); run the command that wrote it to finish that job, or pass --restart to discard it"
            )
        self.replaces_output = bool(header.get("replaces_output"))
        for line in lines[1:]:
            record = _json(line)
            if isinstance(record, dict) and record.get("row_key"):
                self.records[str(record["row_key"])] = record

    def open(self) -> None:
        """Open for appending (creating it with its header): fails here, before any request, if it cannot."""
        new = not self.path.exists()
        with job_file(self.path, "write the journal"):
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if new:
            self._write(self.header)
        self.opened_at = os.fstat(self._fd).st_size

    def _write(self, record: dict[str, Any]) -> None:
        assert self._fd is not None, "open() the journal first"
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        with job_file(self.path, "write the journal"):
            while data:  # a short write (a nearly full disk) continues; an error leaves a torn tail
                data = data[os.write(self._fd, data) :]

    def record(self, record: dict[str, Any]) -> None:
        """Append one finished row; it is not kept in memory (a job may have millions), see ``appended``."""
        self._write(record)

    def appended(self) -> Iterator[dict[str, Any]]:
        """The records this run appended, read back from the file in the order they were written."""
        with job_file(self.path, "read the journal"), self.path.open("rb") as lines:
            lines.seek(self.opened_at)
            for line in lines:
                record = _json(line.decode("utf-8", errors="replace"))
                if isinstance(record, dict) and record.get("row_key"):
                    yield record

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        self.close()
        with job_file(self.path, "remove the journal"):
            self.path.unlink(missing_ok=True)


def _json(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None  # a line damaged by a crash: that row runs again


def write_problems(path: Path, problems: Iterable[dict[str, Any]]) -> int:
    count = 0
    with job_file(path, "write the errors file"), path.open("w", encoding="utf-8") as out:
        for problem in problems:
            out.write(json.dumps(problem, ensure_ascii=False) + "\n")
            count += 1
    if count == 0:
        path.unlink(missing_ok=True)
    return count
