"""What a run of a batch job has to do, decided before it sends anything.

The earlier runs' outcomes come from the output file (a finished job) and the journal (an
unfinished one; its records are newer and win), both keyed by row identity. Against them every
row of the input is one of:

- **answered**: an ``ok`` record under the same request key: reused, never sent again;
- **to run**: no record, or a failed one (a failure produced no answer, so it is tried again);
- **changed**: an ``ok`` record under another request key (the model, template, system prompt or a
  parameter changed). Any changed row stops the run before its first request, with the choices.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferopt.parallel.jobs.records import asked, invalid_record
from inferopt.parallel.jobs.rows import InputProblem, Row


class KeyOrder:
    """Row keys in order, kept as one running digest: whether two files list the same rows in the same order."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._digest = hashlib.sha256()
        for key in keys:
            self.add(key)

    def add(self, key: str) -> None:
        self._digest.update(key.encode() + b"\n")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyOrder) and self._digest.digest() == other._digest.digest()

    __hash__ = None  # type: ignore[assignment]


@dataclass
class JobPlan:
    total: int = 0  # rows (valid or not) in the input
    order: KeyOrder = field(default_factory=KeyOrder)  # a digest of every row's key, in input order
    answered: dict[str, dict[str, Any]] = field(default_factory=dict)  # reused records, at their index now
    invalid: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)  # for the errors file
    changed: list[tuple[Row, dict[str, Any]]] = field(default_factory=list)
    to_run: int = 0

    @property
    def earlier_cost_usd(self) -> float:
        return sum(r.get("cost_usd") or 0.0 for r in self.answered.values())


def plan_job(items: Iterable[Row | InputProblem], earlier: dict[str, dict[str, Any]]) -> JobPlan:
    plan = JobPlan()
    for item in items:
        plan.total += 1
        plan.order.add(item.key)
        if isinstance(item, InputProblem):
            plan.invalid[item.key] = invalid_record(item)
            plan.problems.append({"line": item.line, "error": item.reason, "text": item.text})
            continue
        record = earlier.get(item.key)
        if record is None or record.get("status") != "ok":
            plan.to_run += 1
        elif record.get("request_key") == item.request_key:
            plan.answered[item.key] = {**record, "index": item.index}
        else:
            plan.changed.append((item, record))
    return plan


def _what_changed(row: Row, record: dict[str, Any]) -> str:
    before, now = record.get("asked") or {}, asked(row.request)
    names = [name for name in sorted(set(before) | set(now)) if before.get(name) != now.get(name)]
    if not names:
        return "the prompt (template, system prompt or messages)"
    return ", ".join(f"{name} {before.get(name)!r} -> {now.get(name)!r}" for name in names)


def changed_message(output: Path, changed: list[tuple[Row, dict[str, Any]]]) -> str:
    """One line: how many answered rows would change, what changed, and the two ways on."""
    causes = Counter(_what_changed(row, record) for row, record in changed)
    what = "; ".join(f"{cause} ({count} rows)" for cause, count in causes.most_common(3))
    return (
        f"{output} already answers {len(changed)} of these rows under different settings: {what}. "
        "Nothing was sent. To answer them again with the new settings (paying for them again), "
        "pass --restart; to keep the earlier answers, write to a new output file with -o"
    )
