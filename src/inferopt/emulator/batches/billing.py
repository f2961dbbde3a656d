"""What the emulator's Batch APIs would bill: batches created and the requests in them, per provider.

Tests of crash recovery count these: a rerun after a kill must add no batch for requests already in
one. A batch the provider rejects (an invalid OpenAI input file) bills nothing; uploads are counted
apart, as they cost nothing but storage.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(slots=True)
class BatchBilling:
    openai_batches: int = 0
    openai_requests: int = 0
    anthropic_batches: int = 0
    anthropic_requests: int = 0
    gemini_batches: int = 0
    gemini_requests: int = 0
    files_uploaded: int = 0
    # Lines that ran and were answered (what a provider charges for): a cancelled batch's unrun lines are not.
    openai_lines_answered: int = 0

    def billed(self, wire: str, requests: int) -> None:
        if wire == "anthropic":
            self.anthropic_batches += 1
            self.anthropic_requests += requests
        elif wire == "gemini":
            self.gemini_batches += 1
            self.gemini_requests += requests
        else:
            self.openai_batches += 1
            self.openai_requests += requests

    def snapshot(self) -> dict[str, Any]:
        return asdict(self)
