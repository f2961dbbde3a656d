"""Named crash points of the submit protocol, for tests that kill a real process at each of them.

``INFEROPT_BATCH_FAULT=exit:after-create`` makes the process ``os._exit(137)`` there (what
``kill -9`` leaves: no ``finally``, no flush, no atexit); ``hold:after-create`` prints
``inferopt: holding at after-create`` on stderr and sleeps, for the test to send the real
SIGKILL or SIGTERM. ``POINT@N`` stops only at chunk ``N``. Unset, a crash point does nothing.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping

ENV = "INFEROPT_BATCH_FAULT"
POINTS = ("after-intent", "after-upload", "after-create", "after-record", "during-fetch", "during-cancel")


def crash_point(name: str, chunk: int | None = None, environ: Mapping[str, str] = os.environ) -> None:
    """Stop here if ``INFEROPT_BATCH_FAULT`` names this point (and chunk)."""
    spec = environ.get(ENV)
    if not spec:
        return
    action, _, where = spec.partition(":")
    point, _, at = where.partition("@")
    if point != name or (at and at != str(chunk)):
        return
    if action == "hold":
        sys.stderr.write(f"inferopt: holding at {name}\n")
        sys.stderr.flush()
        while True:
            time.sleep(3600)
    os._exit(137)
