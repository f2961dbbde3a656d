"""Reading records back: from a SQLite or JSONL file, optionally since a point in time."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from inferopt.errors import ConfigError
from inferopt.monitor.records import RequestRecord

_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str | None, now: Callable[[], float] = time.time) -> float | None:
    """``"90m"``, ``"24h"``, ``"7d"`` (ago), an ISO date/time (UTC unless it says), or epoch seconds."""
    if text is None or not text.strip():
        return None
    match = _AGO.match(text)
    if match:
        return now() - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is not a time; use 30m, 24h, 7d, an ISO date like 2026-11-26T12:00 or epoch seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def read_records(source: str | Path, since: float | None = None) -> list[RequestRecord]:
    """Records from ``source``: a sink URL (``sqlite:///...``, ``jsonl:///...``) or a file path."""
    text = str(source)
    if text.startswith("jsonl:") or text.endswith((".jsonl", ".ndjson")):
        from inferopt.monitor.jsonl import read_jsonl

        path = text.split("://", 1)[1] if text.startswith("jsonl://") else text.removeprefix("jsonl:")
        return read_jsonl(path, since)
    if text.startswith("sqlite:") or Path(text).suffix in (".db", ".sqlite", ".sqlite3"):
        from inferopt.monitor.sqlite import read_sqlite

        path = text.split("://", 1)[1] if text.startswith("sqlite://") else text.removeprefix("sqlite:")
        return read_sqlite(path, since)
    raise ConfigError(
        f"cannot tell how to read records from {text!r}; give a .db/.sqlite or .jsonl file, "
        "or a sqlite:///path or jsonl:///path URL"
    )
