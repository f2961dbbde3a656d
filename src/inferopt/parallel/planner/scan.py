"""The planning pass over a job's rows: one row at a time, each to a state in a :class:`RowTable`.

In input order, a row is

- a **copy** when an earlier row, or a row an earlier run answered, asks exactly the same
  (``repeats.py``): answered by that row's answer;
- **resumed** when a Batch API job an earlier run submitted holds it (``resumed`` maps its key to
  the job): adopted, never sent again;
- **cache** when ``--cache`` holds its answer (``CacheProbe``, nothing sent);
- else **pending**: ``allocate`` sends it realtime, on flex or through a Batch API.

Each row's predicted tokens go in the table too, so the plan and the budget need no second count.
Nothing but the table and the repeats' database is kept, however many rows there are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from inferopt.parallel.jobs.rows import Row
from inferopt.parallel.planner.predict import Estimator
from inferopt.parallel.planner.probe import CacheProbe
from inferopt.parallel.planner.repeats import Repeats
from inferopt.parallel.planner.row_table import CACHE, COPY, PENDING, RESUMED, RowTable


@dataclass
class Scan:
    table: RowTable
    repeats: Repeats
    rows: int = 0
    resumed: Counter[int] = field(default_factory=Counter)  # rows held by each resumed job


async def scan_rows(
    rows: Iterable[Row],
    estimator: Estimator,
    probe: CacheProbe | None = None,
    resumed: Mapping[str, int] | None = None,
    earlier: Iterable[dict[str, Any]] = (),
) -> Scan:
    """Read ``rows`` once into a table of states and predicted tokens (the caller closes ``repeats``).

    ``earlier`` are the records of rows earlier runs answered: a row asking what one asked is a copy.
    """
    scan = Scan(RowTable(), Repeats())
    held = resumed or {}
    try:
        scan.repeats.seed(earlier)
        for row in rows:
            scan.rows += 1
            estimate = estimator.estimate(row.index, row.request)
            first = scan.repeats.first_of(row.request_key, row.index)
            if first is not None:
                if first >= 0:
                    scan.table.mark_repeated(first)
                state = COPY
            elif row.key in held:
                state = RESUMED
                scan.resumed[held[row.key]] += 1
            elif probe is not None and await probe.holds(row.request):
                state = CACHE
            else:
                state = PENDING
            scan.table.add(estimate, state)
    except BaseException:
        scan.repeats.close()
        raise
    finally:
        if probe is not None:
            await probe.aclose()
    return scan
