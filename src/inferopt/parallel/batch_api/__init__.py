"""Provider Batch APIs: half-price asynchronous jobs on OpenAI Batch, Anthropic Message Batches, Gemini Batch mode.

- :class:`OpenAIBatch`, :class:`AnthropicBatch`, :class:`GeminiBatch`: one provider's Batch API over httpx, splitting
  items over the provider's limits (:class:`BatchLimits`) into several batches.
- :class:`BatchJobs`: a provider-neutral job (submit, status, results in input order, cancel).
- :class:`JobStore`: job records on disk, so status and results work from another process.
- :func:`estimate_batch_savings`: realtime vs batch cost of a job, before it runs.
"""

from inferopt.parallel.batch_api.anthropic_batch import AnthropicBatch
from inferopt.parallel.batch_api.gemini_batch import GeminiBatch
from inferopt.parallel.batch_api.job import (
    BatchAPI,
    BatchItemError,
    BatchItemResult,
    BatchJob,
    JobStatus,
    ProviderBatch,
    ProviderBatchStatus,
)
from inferopt.parallel.batch_api.jobs import BatchJobs
from inferopt.parallel.batch_api.openai_batch import OpenAIBatch
from inferopt.parallel.batch_api.savings import BatchSavings, estimate_batch_savings
from inferopt.parallel.batch_api.split import ANTHROPIC_LIMITS, GEMINI_LIMITS, OPENAI_LIMITS, BatchLimits
from inferopt.parallel.batch_api.store import JobStore

__all__ = [
    "ANTHROPIC_LIMITS",
    "GEMINI_LIMITS",
    "OPENAI_LIMITS",
    "AnthropicBatch",
    "BatchAPI",
    "BatchItemError",
    "BatchItemResult",
    "BatchJob",
    "BatchJobs",
    "BatchLimits",
    "BatchSavings",
    "GeminiBatch",
    "JobStatus",
    "JobStore",
    "OpenAIBatch",
    "ProviderBatch",
    "ProviderBatchStatus",
    "estimate_batch_savings",
]
