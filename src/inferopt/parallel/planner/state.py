"""What a ``batch run --plan`` must remember across runs: when the job started, its Batch API jobs.

``OUTPUT.plan`` (beside the journal) holds the job's start (Unix time: the deadline counts from
the first run, not from a rerun) and the ids of the Batch API jobs it submitted. An id is written
*before* its job is submitted, so a run killed mid-submit is adopted by its rerun
(``BatchJobs.submit`` is idempotent). The file goes when a run ends with every row sent.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferopt.parallel.jobs.files import job_file


def plan_state_path(output: Path) -> Path:
    return output.with_name(output.name + ".plan")


@dataclass(slots=True)
class PlanState:
    path: Path
    started_at: float = field(default_factory=time.time)
    job_ids: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> PlanState:
        """The state an earlier run left, or a fresh one starting now."""
        if not path.exists():
            return cls(path)
        with job_file(path, "read the plan state"):
            try:
                data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
                return cls(path, float(data["started_at"]), [str(j) for j in data.get("job_ids", [])])
            except (ValueError, KeyError, TypeError):
                return cls(path)  # damaged (a crash mid-write is impossible: see save); start again

    def save(self) -> None:
        partial = self.path.with_name(self.path.name + ".partial")
        with job_file(self.path, "write the plan state"):
            partial.write_text(json.dumps({"started_at": self.started_at, "job_ids": self.job_ids}), encoding="utf-8")
            os.replace(partial, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
