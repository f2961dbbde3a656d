"""The provider-neutral core: from a parsed chat request to an error or a plan of the answer.

``calls.py`` turns HTTP bodies into a :class:`ParsedCall` (through the product's own codecs);
the wire modules turn a :class:`Failure` or a :class:`Plan`'s neutral answer back into each
provider's format with those codecs; ``app.py`` does the waiting and the sending.
Nothing here does I/O, so every rule (limits, caching, faults, latency) is decided in one place
and in microseconds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from inferopt.emulator import thinking, token_runs, tool_answers
from inferopt.emulator.answers import Answer, AnswerSource, continued
from inferopt.emulator.config import EmulatorConfig
from inferopt.emulator.draws import FaultKind, OccurrenceCounter, draw
from inferopt.emulator.latency import LatencyPlan, plan_latency
from inferopt.emulator.limits import LimitDecision, RateLimiter
from inferopt.emulator.profiles import ModelProfile, ProfileTable, Provider, load_profiles
from inferopt.emulator.prompt_cache import AnthropicPromptCache, Breakpoint, CacheUsage, OpenAIPromptCache
from inferopt.emulator.replay import ReplayIndex, load_replay
from inferopt.emulator.stats import EmulatorStats
from inferopt.emulator.token_runs import TokenRun
from inferopt.tokens import REPLY_PRIMER_TOKENS
from inferopt.types import ChatRequest, ChatResponse, FinishReason, ThinkingPart, Usage

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
}
FailureKind = Literal[
    "auth",
    "bad_request",
    "unknown_model",
    "context_length",
    "max_tokens",
    "rate_limited",
    "server_error",
    "content_filter",
    "no_prefill",
    "resource_unavailable",
    "unsupported",
]


@dataclass(slots=True)
class ParsedCall:
    """A chat request as the engine needs it, whichever wire format it arrived in.

    ``runs`` is the prompt as token runs in the provider's order (tools, system, messages);
    ``digest`` identifies the prompt (not max_tokens or streaming, so those never change the
    answer's words). ``block_ends``/``breakpoints`` are Anthropic's cacheable blocks.
    """

    model: str
    runs: list[TokenRun]
    last_user_text: str
    digest: bytes
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False
    include_usage: bool = False
    block_ends: list[int] = field(default_factory=list)
    breakpoints: list[Breakpoint] = field(default_factory=list)
    logprobs: int | None = None  # None: not asked; else how many top alternatives per token
    request: ChatRequest | None = None  # the request as the product's codec decoded it
    context: Any = None  # the wire's own state for this call (the Responses route's ResponsesCall)
    # Anthropic prefill: the final assistant text the answer continues, and the digest of the prompt
    # before it (so a prefilled request continues the very answer the plain one gets).
    prefill: str = ""
    answer_digest: bytes | None = None
    choices: int = 1  # OpenAI ``n``: choice i > 0 answers from the digest marked with i
    cached_content_tokens: int = 0  # Gemini: prompt tokens that came from an explicit cachedContents entry

    @property
    def prompt_tokens(self) -> int:
        return sum(len(r) for r in self.runs) + REPLY_PRIMER_TOKENS


@dataclass(frozen=True, slots=True)
class Failure:
    """An error answer, in neutral terms; each wire module words it its provider's way.

    ``requested``/``limit`` carry the numbers of context-length and max_tokens errors;
    ``decision`` the limit state of a 429; ``param`` the request field a 400 is about.
    """

    status: int
    kind: FailureKind
    message: str = ""
    model: str = ""
    requested: int = 0
    limit: int = 0
    decision: LimitDecision | None = None
    known_models: tuple[str, ...] = ()
    param: str | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything about a successful answer, decided before the first byte is sent."""

    model: str
    profile: ModelProfile
    answer: Answer
    prompt_tokens: int
    cache: CacheUsage
    latency: LatencyPlan
    fault: FaultKind
    limit: LimitDecision
    logprobs: int | None = None
    context: Any = None  # the call's ParsedCall.context
    service_tier: str = "default"  # "flex" or "priority" when the request asked for that OpenAI tier
    more: tuple[Answer, ...] = ()  # choices 1..n-1 of an ``n`` > 1 call

    @property
    def answers(self) -> tuple[Answer, ...]:
        return (self.answer, *self.more)

    def total_usage(self) -> Usage:
        """The prompt once, every choice's output (what OpenAI bills for ``n``)."""
        return Usage(
            input_tokens=self.prompt_tokens,
            output_tokens=sum(a.output_tokens for a in self.answers),
            cache_read_tokens=self.cache.read,
            cache_write_tokens=self.cache.written,
            cache_write_1h_tokens=self.cache.write_1h,
        )

    def response(self, answer_id: str, choice: int = 0) -> ChatResponse:
        """The answer (choice ``choice``) in the neutral type, which each wire's codec encodes."""
        answer, cache = self.answers[choice], self.cache
        usage = Usage(
            input_tokens=self.prompt_tokens,
            output_tokens=answer.output_tokens,
            cache_read_tokens=cache.read,
            cache_write_tokens=cache.written,
            cache_write_1h_tokens=cache.write_1h,
        )
        return ChatResponse(
            id=answer_id,
            model=self.model,
            content=answer.text,
            usage=usage,
            finish_reason=_FINISH[answer.finish],
            stop_sequence=answer.stop_sequence,
            tool_calls=[dict(c) for c in answer.tool_calls] if answer.tool_calls else None,
            thinking=[ThinkingPart(*answer.thinking)] if answer.thinking else None,
            emulated=True,
        )


def tenant_of(api_key: str) -> bytes:
    """A digest standing for the API key: enough to keep tenants apart, useless to an attacker."""
    return hashlib.blake2b(api_key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class Engine:
    """The state of one emulator: profiles, replay data, caches, limits, counters."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.profiles: ProfileTable = load_profiles(config.profiles_file, config.overrides)
        self.replay: ReplayIndex = load_replay(config.replay_paths)
        self.answers = AnswerSource(config.seed, self.replay, config.answer_tokens)
        self.openai_cache = OpenAIPromptCache(config.clock, config.openai_cache_ttl_s)
        self.anthropic_cache = AnthropicPromptCache(config.clock)
        self.limiter = RateLimiter()
        self.occurrences = OccurrenceCounter()
        self._flex_draws = 0
        self.stats = EmulatorStats()
        # Load the tokenizers now, not inside the first request a benchmark times.
        for name in self.profiles.names():
            token_runs.count("warm up", name)

    def plan(self, provider: Provider, call: ParsedCall, tenant: bytes) -> Failure | Plan:
        """Decide the outcome of one request (and update caches, limits and counters)."""
        profile = self.profiles.lookup(call.model, provider)
        if profile is None:
            return Failure(404, "unknown_model", model=call.model, known_models=tuple(self.profiles.names(provider)))
        prompt_tokens = call.prompt_tokens
        if prompt_tokens > profile.context_window:
            return Failure(
                400, "context_length", model=call.model, requested=prompt_tokens, limit=profile.context_window
            )
        if call.max_tokens is not None and call.max_tokens > profile.max_output_tokens:
            return Failure(
                400, "max_tokens", model=call.model, requested=call.max_tokens, limit=profile.max_output_tokens
            )

        seed = self.config.seed
        identity = call.digest + profile.name.encode()
        faults = self.config.faults
        # Occurrences matter only to fault draws: without faults they are not counted (nor remembered).
        occurrence = self.occurrences.next(identity) if faults.any or profile.error_rate else 0
        jitter = profile.fixed_latency_s is None
        draws = draw(seed, identity, occurrence, faults, profile.error_rate, jitter=jitter)
        now = self.config.clock()
        if draws.fault == "rate_limit":
            self.stats.faults["rate_limit"] += 1
            self.limiter.block(tenant, profile.name, now + self.config.faults.rate_limit_burst_s)

        digest = call.answer_digest or call.digest
        answer = self.shaped_answer(provider, call, profile.name)
        more = tuple(self._choice(call, profile.name, digest, i) for i in range(1, call.choices))
        outputs = answer.output_tokens + sum(a.output_tokens for a in more)
        charge = prompt_tokens + (call.max_tokens * call.choices if call.max_tokens is not None else outputs)
        decision = self.limiter.check(tenant, profile.name, profile.rpm, profile.tpm, charge, now)
        if not decision.allowed:
            return Failure(429, "rate_limited", model=call.model, requested=charge, decision=decision)
        tier = flex_tier(call, provider)
        if tier == "flex" and self._flex_refused(identity):
            self.stats.faults["flex_refused"] += 1
            return Failure(429, "resource_unavailable", model=call.model)
        if draws.fault == "error":
            self.stats.faults["error"] += 1
            return Failure(500, "server_error", model=call.model)

        salt = tenant + profile.name.encode()
        if provider != "anthropic":  # OpenAI and Gemini cache a prompt's prefix by themselves (implicit)
            implicit = self.openai_cache.cached_tokens(salt, call.runs, profile.min_cacheable_tokens)
            cache = CacheUsage(read=max(implicit, call.cached_content_tokens))
        else:
            cache = self.anthropic_cache.usage(
                salt, call.runs, call.block_ends, call.breakpoints, profile.min_cacheable_tokens
            )
        fault: FaultKind = draws.fault if draws.fault in ("hang", "drop", "stall") else "none"
        if fault != "none":
            self.stats.faults[fault] += 1
        latency = plan_latency(profile, answer.output_tokens, draws.latency)
        if tier == "flex":
            factor = self.config.flex_latency_factor
            latency = LatencyPlan(latency.ttft_s * factor, latency.total_s * factor)
        return Plan(
            call.model,
            profile,
            answer,
            prompt_tokens,
            cache,
            latency,
            fault,
            decision,
            call.logprobs,
            call.context,
            tier,
            more,
        )

    def shaped_answer(self, provider: Provider, call: ParsedCall, model: str) -> Answer:
        """The answer's words, continued after a prefill, shaped by the request's tools and thinking
        (live calls and batch lines alike)."""
        seed = self.config.seed
        digest = call.answer_digest or call.digest
        budget = None if call.prefill else call.max_tokens  # a continuation's budget is for what follows
        answer = self.answers.answer(model, call.last_user_text, digest, budget, call.stop)
        if call.prefill:
            answer = continued(answer, call.prefill, model, call.max_tokens)
        if call.request is not None:
            answer = tool_answers.shape(call.request, answer, seed, call.digest)
            if provider == "anthropic":
                answer = thinking.shape(call.request, answer, seed, call.digest, model)
        return answer

    def batch_cache(self, call: ParsedCall, model: str, min_tokens: int | None) -> CacheUsage:
        """An Anthropic batch line's cache writes and reads: its breakpoints work as live (best effort
        at Anthropic; here always), shared by the batches of this emulator."""
        salt = b"batch\x00" + model.encode()
        return self.anthropic_cache.usage(salt, call.runs, call.block_ends, call.breakpoints, min_tokens)

    def _choice(self, call: ParsedCall, model: str, digest: bytes, i: int) -> Answer:
        """Choice ``i`` of an ``n`` > 1 call: the same prompt, another sample (reproducible)."""
        marked = digest + i.to_bytes(2, "big")
        answer = self.answers.answer(model, call.last_user_text, marked, call.max_tokens, call.stop)
        if call.request is not None:
            answer = tool_answers.shape(call.request, answer, self.config.seed, call.digest + i.to_bytes(2, "big"))
        return answer

    def _flex_refused(self, identity: bytes) -> bool:
        """A seeded draw per flex request (each repeat of a prompt draws afresh)."""
        rate = self.config.flex_refusal_rate
        if not rate:
            return False
        self._flex_draws += 1
        digest = hashlib.blake2b(identity + self._flex_draws.to_bytes(8, "big"), digest_size=8, key=b"flex").digest()
        return int.from_bytes(digest, "big") / 2**64 < rate


def flex_tier(call: ParsedCall, provider: Provider) -> str:
    """``flex`` or ``priority`` for an OpenAI request asking for that ``service_tier``, else ``default``."""
    request = call.request
    asked = request.extra.get("service_tier") if request is not None else None
    if provider == "openai" and asked in ("flex", "priority"):
        return str(asked)
    return "default"
