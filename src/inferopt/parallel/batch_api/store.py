"""Where jobs are remembered between commands: one JSON file per job under ``.inferopt/batches/``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from inferopt.errors import InferoptError
from inferopt.parallel.batch_api.job import BatchJob

DEFAULT_DIR = Path(".inferopt") / "batches"


class JobStore:
    """Job records in ``directory`` (written atomically, so a crash never leaves half a file)."""

    def __init__(self, directory: str | os.PathLike[str] = DEFAULT_DIR) -> None:
        self.directory = Path(directory)

    def path(self, job_id: str) -> Path:
        if not job_id or "/" in job_id or "\\" in job_id or job_id.startswith("."):
            raise InferoptError(f"{job_id!r} is not a job id (job ids look like job_0123456789ab)")
        return self.directory / f"{job_id}.json"

    def save(self, job: BatchJob) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path(job.id)
        partial = target.with_suffix(".json.partial")
        partial.write_text(json.dumps(job.to_json()), encoding="utf-8")
        partial.replace(target)
        return target

    def load(self, job_id: str) -> BatchJob:
        target = self.path(job_id)
        if not target.is_file():
            known = ", ".join(self.job_ids()[-5:]) or "none"
            raise InferoptError(
                f"no batch job {job_id!r} in {self.directory} (jobs there: {known}); run the command from the folder "
                "where you submitted it, or pass --state-dir"
            )
        try:
            return BatchJob.from_json(json.loads(target.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise InferoptError(f"job file {target} is damaged ({exc}); resubmit the job") from None

    def find(self, job_id: str) -> BatchJob | None:
        """The job's record, or None when there is none."""
        return self.load(job_id) if self.path(job_id).is_file() else None

    def claimed(self) -> set[str]:
        """Every provider batch id recorded by a job here (a damaged record is skipped)."""
        ids: set[str] = set()
        for job_id in self.job_ids():
            try:
                ids.update(b.id for b in self.load(job_id).batches if b.id)
            except InferoptError:
                continue
        return ids

    def job_ids(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        files = sorted(self.directory.glob("job_*.json"), key=lambda p: p.stat().st_mtime)
        return [p.stem for p in files]
