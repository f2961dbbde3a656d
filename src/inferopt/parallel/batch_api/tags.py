"""How a provider batch is recognised as a given chunk of a given job, after a crash lost its id.

OpenAI batches carry ``metadata`` (up to 16 string pairs): ours names the job, the chunk and the
digest of the chunk's input file, and the input file's name says the same. Anthropic Message
Batches have no metadata, so a chunk's batch is recognised by what the list shows: created after
the chunk's recorded intent, holding as many requests, not already recorded by any job and, once
it has ended, answering exactly the chunk's custom ids (see ``AnthropicBatch.find``). Gemini
batches have a ``displayName``: ours names the job, the chunk and the digest of its requests.
"""

from __future__ import annotations

from inferopt.parallel.batch_api.job import BatchJob

# Provider timestamps and ours may disagree by this much: a batch created up to this long before
# our recorded intent is still looked at (listing further back costs pages, never money).
CLOCK_SKEW_S = 600.0


def batch_metadata(job: BatchJob, index: int) -> dict[str, str]:
    return {"inferopt_job": job.id, "inferopt_chunk": str(index), "inferopt_digest": job.batches[index].digest}


def input_filename(job: BatchJob, index: int) -> str:
    return f"inferopt-{job.id}-c{index}-{job.batches[index].digest}.jsonl"


def batch_display_name(job: BatchJob, index: int) -> str:
    return f"inferopt-{job.id}-c{index}-{job.batches[index].digest}"
