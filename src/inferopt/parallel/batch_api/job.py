"""The provider-neutral vocabulary of Batch API jobs: items, results, statuses, the job record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from inferopt.types import ChatRequest, ChatResponse

BatchState = Literal["in_progress", "cancelling", "ended", "failed"]
ErrorKind = Literal["errored", "canceled", "expired", "failed", "missing"]


@dataclass(frozen=True, slots=True)
class BatchItemError:
    """Why one item has no answer.

    ``kind``: ``errored`` (the provider answered it with an error: ``status`` and ``message``),
    ``canceled`` / ``expired`` (never run: the batch was cancelled or ran out of its window),
    ``failed`` (its whole provider batch was rejected, e.g. an invalid input file), ``missing``
    (the provider returned no line for it).
    """

    kind: ErrorKind
    message: str
    status: int | None = None
    error_type: str | None = None


@dataclass(slots=True)
class BatchItemResult:
    """One item of a job: its answer (with usage and cost at batch prices) or its error."""

    custom_id: str
    response: ChatResponse | None = None
    error: BatchItemError | None = None

    @property
    def ok(self) -> bool:
        return self.response is not None


@dataclass(frozen=True, slots=True)
class ProviderBatchStatus:
    """One provider batch as the provider reports it, in neutral terms."""

    id: str
    state: BatchState
    provider_status: str  # the provider's own word: "in_progress", "finalizing", "canceling", ...
    total: int
    succeeded: int = 0
    failed: int = 0
    detail: str = ""

    @property
    def processing(self) -> int:
        return 0 if self.state in ("ended", "failed") else max(0, self.total - self.succeeded - self.failed)


@dataclass(slots=True)
class JobStatus:
    """A whole job: the sum of its provider batches."""

    job_id: str
    batches: list[ProviderBatchStatus]

    @property
    def state(self) -> BatchState:
        states = {b.state for b in self.batches}
        if "in_progress" in states:
            return "in_progress"
        if "cancelling" in states:
            return "cancelling"
        return "failed" if states == {"failed"} else "ended"

    @property
    def finished(self) -> bool:
        return self.state in ("ended", "failed")

    @property
    def total(self) -> int:
        return sum(b.total for b in self.batches)

    @property
    def succeeded(self) -> int:
        return sum(b.succeeded for b in self.batches)

    @property
    def failed(self) -> int:
        return sum(b.failed for b in self.batches)


@dataclass(slots=True)
class ProviderBatch:
    """One provider batch of a job and the items it holds (in submission order)."""

    id: str
    custom_ids: list[str]


@dataclass(slots=True)
class BatchJob:
    """What a job is made of, enough to poll, fetch and cancel it from another process."""

    id: str
    provider: str
    wire: str  # "openai" | "anthropic"
    model: str
    created_at: float
    batches: list[ProviderBatch] = field(default_factory=list)

    @property
    def custom_ids(self) -> list[str]:
        return [c for b in self.batches for c in b.custom_ids]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "wire": self.wire,
            "model": self.model,
            "created_at": self.created_at,
            "batches": [{"id": b.id, "custom_ids": b.custom_ids} for b in self.batches],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchJob:
        batches = [ProviderBatch(str(b["id"]), [str(c) for c in b["custom_ids"]]) for b in data["batches"]]
        return cls(
            str(data["id"]),
            str(data["provider"]),
            str(data["wire"]),
            str(data["model"]),
            float(data["created_at"]),
            batches,
        )


class BatchAPI(Protocol):
    """One provider's Batch API (``OpenAIBatch``, ``AnthropicBatch``)."""

    wire: str

    async def submit(self, items: list[tuple[str, ChatRequest]]) -> list[ProviderBatch]: ...

    async def status(self, batch_id: str) -> ProviderBatchStatus: ...

    async def results(self, batch_id: str) -> list[BatchItemResult]: ...

    async def cancel(self, batch_id: str) -> ProviderBatchStatus: ...

    async def aclose(self) -> None: ...
