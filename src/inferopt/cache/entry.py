"""A cached answer and its bytes: the response, plus the stream's chunk boundaries when streamed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from inferopt.errors import InvalidArgumentError
from inferopt.types import ChatResponse, ThinkingPart, Usage

ENTRY_VERSION = 1


@dataclass(slots=True)
class CachedAnswer:
    """What a hit replays: the original response and, for a streamed answer, its text chunks."""

    response: ChatResponse
    chunks: list[str] | None = None
    created_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        data = {
            "v": ENTRY_VERSION,
            "response": asdict(self.response),
            "chunks": self.chunks,
            "created_at": self.created_at,
            "extra": self.extra,
        }
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CachedAnswer:
        """Decode an entry; raises ValueError on bytes this version did not write."""
        try:
            data = json.loads(raw)
            if data.get("v") != ENTRY_VERSION:
                raise InvalidArgumentError(f"cache entry version {data.get('v')!r}, expected {ENTRY_VERSION}")
            fields = dict(data["response"])
            fields["usage"] = Usage(**fields["usage"])
            if fields.get("thinking"):
                fields["thinking"] = [ThinkingPart(**part) for part in fields["thinking"]]
            response = ChatResponse(**fields)
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise InvalidArgumentError(f"unreadable cache entry: {exc}") from exc
        return cls(response, data.get("chunks"), float(data.get("created_at", 0.0)), data.get("extra") or {})
