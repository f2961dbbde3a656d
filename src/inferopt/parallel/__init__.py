"""Throughput under provider limits: retries (and, as they land, limiters, the batch runner, Batch APIs)."""

from inferopt.parallel.retry import RetryBudget, Retrying, RetryPolicy, RetryState

__all__ = ["RetryBudget", "RetryPolicy", "RetryState", "Retrying"]
