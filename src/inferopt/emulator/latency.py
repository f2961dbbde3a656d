"""How long an answer takes, and when each streamed piece of it is sent.

Total time = time to first token + output tokens / tokens per second, both scaled by one seeded
jitter factor in [1 - jitter, 1 + jitter]; a profile's ``fixed_latency_s`` replaces all of it
(every answer takes exactly that long; a stream's first piece comes at the TTFT's share of it).
A stream sends its first piece at the TTFT and its last at the total, with pieces about every
``PIECE_INTERVAL_S`` in between: one sleep per piece, not per token, so long answers cost a
handful of timer wake-ups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferopt.emulator.profiles import ModelProfile

PIECE_INTERVAL_S = 0.025


@dataclass(frozen=True, slots=True)
class LatencyPlan:
    """Seconds from receiving the request to the first token and to the end of the answer."""

    ttft_s: float
    total_s: float


def plan_latency(profile: ModelProfile, output_tokens: int, u: float) -> LatencyPlan:
    """The latency of one answer; ``u`` is the request's uniform draw in [0, 1)."""
    natural_total = profile.ttft_s + output_tokens / profile.tokens_per_s
    if profile.fixed_latency_s is not None:
        # Exactly the fixed total; a stream keeps the profile's shape (TTFT's share of the total).
        total = profile.fixed_latency_s
        share = profile.ttft_s / natural_total if natural_total > 0 else 1.0
        return LatencyPlan(total * share, total)
    factor = max(0.0, 1.0 + profile.jitter * (2.0 * u - 1.0))
    return LatencyPlan(profile.ttft_s * factor, natural_total * factor)


def split_text(text: str, pieces: int) -> list[str]:
    """``text`` in about ``pieces`` parts of similar length, cut before spaces (words stay whole)."""
    if not text:
        return []
    if pieces <= 1:
        return [text]
    out: list[str] = []
    start = 0
    for i in range(1, pieces):
        cut = text.find(" ", max(len(text) * i // pieces, start + 1))
        if cut == -1:
            break
        out.append(text[start:cut])
        start = cut
    out.append(text[start:])
    return out


def stream_schedule(text: str, plan: LatencyPlan) -> list[tuple[float, str]]:
    """(seconds after the request, piece of text) for every piece of a streamed answer."""
    generation_s = max(0.0, plan.total_s - plan.ttft_s)
    wanted = 1 + math.ceil(generation_s / PIECE_INTERVAL_S)
    pieces = split_text(text, wanted)
    if len(pieces) <= 1:
        return [(plan.ttft_s, p) for p in pieces]
    step = generation_s / (len(pieces) - 1)
    return [(plan.ttft_s + i * step, piece) for i, piece in enumerate(pieces)]
