"""Answering one batch line with the same engine parts that answer a live request.

A batch line is parsed by the provider's wire module, checked against the model's profile and
answered by the engine's :class:`~inferopt.emulator.answers.AnswerSource`, so a prompt gets the
same words, tool calls, thinking and usage in a batch as live. What differs from ``Engine.plan``,
on purpose: no realtime rate limits (providers give batches their own queue), no latency or
transport faults, prompt caching only on Anthropic's ``cache_control`` breakpoints (its batches
cache best-effort; OpenAI's Batch API does not discount cached input before GPT-5) and Gemini's
explicit ``cachedContent``, and errors
come from ``batch_error_rate`` instead of the live fault rates.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from inferopt.emulator import calls, embeddings, wire_anthropic, wire_gemini, wire_openai
from inferopt.emulator.engine import Engine, Failure, Plan
from inferopt.emulator.latency import plan_latency
from inferopt.emulator.limits import ALLOWED_UNLIMITED
from inferopt.emulator.profiles import Provider
from inferopt.emulator.prompt_cache import CacheUsage

_UNIT = float(1 << 64)


def error_draw(seed: int, custom_id: str, body: Any) -> float:
    """A uniform draw in [0, 1) fixed by the seed and the line (so a rerun errs on the same lines)."""
    digest = hashlib.blake2b(f"{seed}\x00{custom_id}\x00{body!r}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _UNIT


def plan_line(engine: Engine, provider: Provider, custom_id: str, body: Any) -> Failure | Plan:
    """The outcome of one batch line: the plan of its answer, or the error it ends with."""
    if provider == "gemini":  # a Gemini line names its model beside the request (the batch's own)
        model, request = body  # the request may be the Failure of expanding its cachedContent
        call = request if isinstance(request, Failure) else wire_gemini.gemini_call(dict(request), model, False)
    else:
        call = (calls.openai_call if provider == "openai" else calls.anthropic_call)(body)
    if isinstance(call, Failure):
        return call
    if call.stream:
        return Failure(400, "bad_request", message="stream: streaming is not supported in batches", param="stream")
    profile = engine.profiles.lookup(call.model, provider)
    if profile is None:
        return Failure(404, "unknown_model", model=call.model, known_models=tuple(engine.profiles.names(provider)))
    prompt_tokens = call.prompt_tokens
    if prompt_tokens > profile.context_window:
        return Failure(400, "context_length", model=call.model, requested=prompt_tokens, limit=profile.context_window)
    if call.max_tokens is not None and call.max_tokens > profile.max_output_tokens:
        return Failure(400, "max_tokens", model=call.model, requested=call.max_tokens, limit=profile.max_output_tokens)
    config = engine.config
    if error_draw(config.seed, custom_id, body) < config.batch_error_rate:
        engine.stats.faults["batch_error"] += 1
        return Failure(500, "server_error", model=call.model)
    answer = engine.shaped_answer(provider, call, profile.name)  # tools and thinking, as live
    cache = engine.batch_cache(call, profile.name, profile.min_cacheable_tokens) if provider == "anthropic" else None
    if call.cached_content_tokens:  # a Gemini line's explicit context cache is read as live
        cache = CacheUsage(read=call.cached_content_tokens)
    engine.stats.usage(prompt_tokens, answer.output_tokens, cache.read if cache else 0)
    latency = plan_latency(profile, answer.output_tokens, 0.5)
    return Plan(call.model, profile, answer, prompt_tokens, cache or CacheUsage(), latency, "none", ALLOWED_UNLIMITED)


@dataclass(slots=True)
class LineOutcome:
    """One answered line: the provider's response body (an answer or an error envelope)."""

    custom_id: str
    request_id: str
    status: int
    body: bytes
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def ok(self) -> bool:
        return self.status == 200


def answer_lines(
    engine: Engine,
    provider: Provider,
    items: list[tuple[str, Any]],
    request_ids: Iterator[str],
    created: int,
    endpoint: str = "/v1/chat/completions",
) -> list[LineOutcome]:
    """Every line answered, in the (seeded, shuffled) order the batch processes them.

    OpenAI and Anthropic do not promise results in input order; the shuffle keeps clients honest
    about matching by ``custom_id``. Gemini does (its output is in input order): no shuffle there.
    """
    outcomes: list[LineOutcome] = []
    for custom_id, body in items:
        request_id = next(request_ids)
        if endpoint == "/v1/embeddings":
            outcomes.append(_embedded_line(engine, custom_id, request_id, body))
            continue
        outcome = plan_line(engine, provider, custom_id, body)
        if isinstance(outcome, Failure):
            error = (
                wire_openai.error_body(outcome)
                if provider == "openai"
                else wire_gemini.error_body(outcome)
                if provider == "gemini"
                else wire_anthropic.error_body(outcome, request_id)
            )
            outcomes.append(LineOutcome(custom_id, request_id, outcome.status, error))
            continue
        if provider == "openai":
            answer = wire_openai.completion_body(outcome, "chatcmpl-emu-" + request_id[8:], created)
        elif provider == "gemini":
            answer = wire_gemini.response_body(outcome, request_id[8:])
        else:
            answer = wire_anthropic.message_body(outcome, "msg_emu_" + request_id[8:])
        outcomes.append(
            LineOutcome(custom_id, request_id, 200, answer, outcome.prompt_tokens, outcome.answer.output_tokens)
        )
    if provider != "gemini":
        random.Random(engine.config.seed).shuffle(outcomes)
    return outcomes


def _embedded_line(engine: Engine, custom_id: str, request_id: str, body: Any) -> LineOutcome:
    """An embeddings line, answered as ``POST /v1/embeddings`` answers it live."""
    outcome = embeddings.embed(body, engine.config.seed)
    if isinstance(outcome, Failure):
        return LineOutcome(custom_id, request_id, outcome.status, wire_openai.error_body(outcome))
    engine.stats.usage(outcome.prompt_tokens, 0, 0)
    return LineOutcome(custom_id, request_id, 200, outcome.body, outcome.prompt_tokens, 0)
