"""Counters of what an emulator served, readable in-process and at ``GET /emulator/stats``."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any


class EmulatorStats:
    """Requests per route and status, answers served per model, 429s, errors, faults, replays.

    ``by_model`` counts answers served (status 200, including ones a fault then cut); refusals
    (4xx, 5xx) are in ``by_status``, ``rate_limited`` and ``errors``. Status 499 counts requests
    whose client hung up before any answer (as nginx logs them).

    Only the server's event loop writes these; readers in other threads take :meth:`snapshot`,
    which also reports ``process_cpu_s``: CPU seconds used so far by the process serving the emulator
    (the whole host process when it runs in a thread), for load tests to tell the emulator's cost
    per request from the client's.
    """

    def __init__(self) -> None:
        self.requests_total = 0
        self.by_route: Counter[str] = Counter()
        self.by_model: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.betas: Counter[str] = Counter()  # anthropic-beta header values received on /v1/messages
        self.last_body: dict[str, bytes] = {}  # the last request body received per route (for tests)
        self.rate_limited = 0
        self.errors = 0
        self.replayed = 0
        self.streamed = 0
        # Streams whose client hung up before the end: generation stopped there.
        self.streams_abandoned = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cached_tokens = 0
        self.in_flight = 0

    def request(self, route: str) -> None:
        self.requests_total += 1
        self.by_route[route] += 1

    def answered(self, status: int, model: str | None = None) -> None:
        """Count one response; ``model`` only for an answer served."""
        self.by_status[status] += 1
        if model is not None:
            self.by_model[model] += 1
        if status == 429:
            self.rate_limited += 1
        elif status >= 400:
            self.errors += 1

    def usage(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cached_tokens += cached_tokens

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of every counter."""
        return {
            "requests_total": self.requests_total,
            "in_flight": self.in_flight,
            "by_route": dict(self.by_route),
            "by_model": dict(self.by_model),
            "by_status": {str(k): v for k, v in dict(self.by_status).items()},
            "rate_limited": self.rate_limited,
            "errors": self.errors,
            "faults": dict(self.faults),
            "replayed": self.replayed,
            "streamed": self.streamed,
            "streams_abandoned": self.streams_abandoned,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "process_cpu_s": time.process_time(),
        }
