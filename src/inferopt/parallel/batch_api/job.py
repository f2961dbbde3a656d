"""The provider-neutral vocabulary of Batch API jobs: items, results, statuses, the job record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from inferopt.types import ChatRequest, ChatResponse

if TYPE_CHECKING:
    from inferopt.parallel.batch_api.split import PlannedChunk

BatchState = Literal["submitting", "in_progress", "cancelling", "ended", "failed"]
ErrorKind = Literal["errored", "canceled", "expired", "failed", "missing", "unsubmitted"]


@dataclass(frozen=True, slots=True)
class BatchItemError:
    """Why one item has no answer.

    ``kind``: ``errored`` (the provider answered it with an error: ``status`` and ``message``),
    ``canceled`` / ``expired`` (never run: the batch was cancelled or ran out of its window),
    ``failed`` (its whole provider batch was rejected, e.g. an invalid input file), ``missing``
    (the provider returned no line for it), ``unsubmitted`` (its provider batch was never created:
    the job was cancelled while its submit was unfinished).
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
        if "submitting" in states:
            return "submitting"
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
    """One chunk of a job: the items it holds (in submission order) and its provider batch, once created.

    ``id`` is empty until the provider batch exists. The rest is the submit protocol's intent
    record (see ``submit.py``): ``digest`` of the chunk's payload, ``intent_at`` (Unix time before
    the first create was sent: a batch created by a killed run is at most this old) and, on
    OpenAI, ``file_id`` of the uploaded input file.
    """

    id: str
    custom_ids: list[str]
    digest: str = ""
    intent_at: float | None = None
    file_id: str | None = None

    @property
    def created(self) -> bool:
        return bool(self.id)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "custom_ids": self.custom_ids}
        if self.digest:
            data["digest"] = self.digest
        if self.intent_at is not None:
            data["intent_at"] = self.intent_at
        if self.file_id:
            data["file_id"] = self.file_id
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProviderBatch:
        intent = data.get("intent_at")
        return cls(
            str(data["id"]),
            [str(c) for c in data["custom_ids"]],
            str(data.get("digest", "")),
            None if intent is None else float(intent),
            str(data["file_id"]) if data.get("file_id") else None,
        )


@dataclass(slots=True)
class BatchJob:
    """What a job is made of, enough to poll, fetch and cancel it from another process.

    ``batches`` holds every chunk, created or not: a job whose submit was interrupted has chunks
    with no provider batch yet, which a rerun of the submit adopts or creates (``submitted``).
    ``cancelled`` is recorded before the cancels are sent: no chunk of a cancelled job is created.
    """

    id: str
    provider: str
    wire: str  # "openai" | "anthropic"
    model: str
    created_at: float
    batches: list[ProviderBatch] = field(default_factory=list)
    cancelled: bool = False

    @property
    def custom_ids(self) -> list[str]:
        return [c for b in self.batches for c in b.custom_ids]

    @property
    def submitted(self) -> bool:
        return all(b.created for b in self.batches)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "provider": self.provider,
            "wire": self.wire,
            "model": self.model,
            "created_at": self.created_at,
            "batches": [b.to_json() for b in self.batches],
        }
        if self.cancelled:
            data["cancelled"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchJob:
        return cls(
            str(data["id"]),
            str(data["provider"]),
            str(data["wire"]),
            str(data["model"]),
            float(data["created_at"]),
            [ProviderBatch.from_json(b) for b in data["batches"]],
            bool(data.get("cancelled", False)),
        )


class BatchAPI(Protocol):
    """One provider's Batch API (``OpenAIBatch``, ``AnthropicBatch``).

    Submitting is three steps so that a job can record its intent between them (``submit.py``):
    ``plan`` splits items into chunk payloads, ``find`` looks for the provider batch of a chunk
    that a killed run may have created, ``create`` creates it (calling ``on_upload`` with the
    input file's id, on APIs that upload one first).
    """

    wire: str

    def plan(self, items: list[tuple[str, ChatRequest]]) -> list[PlannedChunk]: ...

    async def find(self, job: BatchJob, index: int, claimed: set[str]) -> str | None: ...

    async def create(self, job: BatchJob, index: int, chunk: PlannedChunk, on_upload: Callable[[str], None]) -> str: ...

    async def status(self, batch_id: str) -> ProviderBatchStatus: ...

    async def results(self, batch_id: str) -> list[BatchItemResult]: ...

    async def cancel(self, batch_id: str) -> ProviderBatchStatus: ...

    async def aclose(self) -> None: ...
