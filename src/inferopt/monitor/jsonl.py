"""A JSONL sink: one JSON object per record, appended; easy to ship to any log pipeline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from inferopt.errors import ConfigError
from inferopt.monitor.records import RequestRecord


class JSONLSink:
    """Appends records to ``path`` (created with its folder if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, records: Sequence[RequestRecord]) -> None:
        lines = "".join(json.dumps(r.to_dict(), separators=(",", ":")) + "\n" for r in records)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(lines)

    def close(self) -> None:
        return None


def read_jsonl(path: str | Path, since: float | None = None) -> list[RequestRecord]:
    """Records from a JSONL file, oldest first; ``since`` keeps those at or after that epoch time."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError("records file not found; point at the JSONL file the Metered sink writes", file=str(file))
    records = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = RequestRecord.from_dict(json.loads(line))
        except (json.JSONDecodeError, TypeError) as exc:
            raise ConfigError(f"line {number} is not a request record: {exc}", file=str(file)) from None
        if since is None or record.timestamp >= since:
            records.append(record)
    records.sort(key=lambda r: r.timestamp)
    return records
