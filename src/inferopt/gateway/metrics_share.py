"""One ``/metrics`` for every worker of ``inferopt serve --workers N``.

Workers share one listening socket, so a Prometheus scrape reaches whichever worker accepts it; with
per-worker counters every scrape would see a different, partial total (and rates computed from them
would be nonsense). Each worker therefore publishes its counters to a file in one folder (written to
a temporary name, then renamed, so a reader never sees half a file) every ``interval_s``, and the
worker answering ``/metrics`` adds its own live counters to the others' last published ones.

Others' figures are at most ``interval_s`` old. A worker that died leaves the sum (its file is
removed once its process is gone): Prometheus sees that as a counter reset, as it would for a
restarted single process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

METRICS_DIR_ENV = "INFEROPT_GATEWAY_METRICS_DIR"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class SharedMetrics:
    """This worker's file in ``folder`` and the other workers' files beside it."""

    def __init__(self, folder: str | Path, *, pid: int | None = None, interval_s: float = 1.0) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pid = os.getpid() if pid is None else pid
        self.interval_s = interval_s
        self._path = self.folder / f"{self.pid}.json"

    def publish(self, counters: dict[str, Any]) -> None:
        """Replace this worker's published counters (atomically: write aside, then rename)."""
        partial = self._path.with_suffix(".tmp")
        partial.write_text(json.dumps(counters, separators=(",", ":")))
        os.replace(partial, self._path)

    def others(self) -> list[dict[str, Any]]:
        """The last published counters of every other live worker."""
        found = []
        for path in self.folder.glob("*.json"):
            if not path.stem.isdigit() or int(path.stem) == self.pid:
                continue
            if not _alive(int(path.stem)):
                path.unlink(missing_ok=True)
                continue
            with contextlib.suppress(OSError, ValueError):  # removed between glob and read
                found.append(json.loads(path.read_text()))
        return found

    def withdraw(self) -> None:
        """Leave the sum (at shutdown)."""
        self._path.unlink(missing_ok=True)

    async def publish_every(self, counters: Any) -> None:
        """Publish ``counters()`` every ``interval_s`` until cancelled."""
        while True:
            self.publish(counters())
            await asyncio.sleep(self.interval_s)


def shared_metrics_from_env() -> SharedMetrics | None:
    """The folder ``inferopt serve`` gives its workers (None for a single process)."""
    folder = os.environ.get(METRICS_DIR_ENV)
    return SharedMetrics(folder) if folder else None
