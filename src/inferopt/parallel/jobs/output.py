"""The output file of a batch job: read back on a rerun, written once the job is finished.

The output is what a finished job leaves (its journal is merged into it and removed), so a rerun
reads it as the record of earlier runs: a row whose answer is there is answered. It is written
to a temporary file beside it, synced, then renamed over it, so it is always whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from inferopt.errors import JobChangedError
from inferopt.parallel.jobs.files import job_file


def read_output_records(path: Path) -> dict[str, dict[str, Any]]:
    """The records of an existing output file by row key (empty when there is none)."""
    if not path.exists():
        return {}
    records: dict[str, dict[str, Any]] = {}
    with job_file(path, "read the output"), path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict) or not record.get("row_key"):
                raise JobChangedError(
                    f"{path} exists but line {number} is not a record of an inferopt batch job with row "
                    "identities (another program, or an older inferopt, wrote it); to replace it pass --restart, "
                    "or write to a new output file with -o"
                )
            records[str(record["row_key"])] = record
    return records


def write_output(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Write ``records`` (in input order) to ``path`` atomically."""
    temporary = path.with_name(path.name + ".tmp")
    with job_file(temporary, "write the output"):
        try:
            with temporary.open("w", encoding="utf-8") as out:
                for record in records:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)  # a full disk gets its space back; the journal is untouched
            raise
