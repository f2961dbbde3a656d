"""The batch planner: every row of a job answered by its deadline at the lowest predicted price.

``plan_job`` sorts a job's rows over the ways to answer them (the exact cache, realtime within the
RPM/TPM limits, OpenAI's flex tier, a provider Batch API) and predicts the cost and finish time of
each share before anything is sent (docs/planner.md).
"""

from inferopt.parallel.planner.allocate import Capacity, allocate
from inferopt.parallel.planner.model import PlannedJob, Share
from inferopt.parallel.planner.predict import Rates, RowEstimate, estimate_rows

__all__ = ["Capacity", "PlannedJob", "Rates", "RowEstimate", "Share", "allocate", "estimate_rows"]
