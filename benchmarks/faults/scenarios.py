"""The fault scenarios: what the primary (and sometimes the fallback) does, what the caller should see,
and what it may cost upstream and in time. Judged against a healthy run of the same rig."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness import MODEL, Call, Run

from inferopt.pricing.cost import cost_of
from inferopt.types import Usage

SLACK_S = 1.0  # scheduling noise on a shared machine, on top of any bound


@dataclass(frozen=True, slots=True)
class Bounds:
    """The router deadlines of a run (the documented defaults, or ``--quick``'s)."""

    first_token_s: float = 20.0
    stall_s: float = 15.0
    attempt_s: float = 60.0

    def router_options(self, defaults: bool, hedge: bool = False) -> dict[str, Any]:
        """Nothing with the defaults and no hedge: the router then runs on its documented defaults."""
        options: dict[str, Any] = {}
        if not defaults:
            options.update(
                first_token_timeout_s=self.first_token_s, stall_timeout_s=self.stall_s, timeout_s=self.attempt_s
            )
        if hedge:
            options["hedge_after_s"] = self.hedge_s
        return options

    @property
    def hedge_s(self) -> float:
        """The hedged row's ``hedge_after_s``: a tenth of the first-token bound."""
        return self.first_token_s / 10

    @property
    def slow_s(self) -> float:
        """How late the slow primary's first token is: past first_token_timeout_s, within timeout_s."""
        return 1.5 * self.first_token_s


DEFAULTS = Bounds()
QUICK = Bounds(first_token_s=1.0, stall_s=1.0, attempt_s=5.0)

# Extra latency a scenario may add over the healthy answer, by (bounds, streamed, healthy seconds).
Allowance = Callable[[Bounds, bool, float], float]
AT_ONCE: Allowance = lambda b, s, h: SLACK_S  # noqa: E731
# A fail-over after a whole attempt (a cut, a malformed body): under twice the healthy time.
RESCUE: Allowance = lambda b, s, h: h if s else h + SLACK_S  # noqa: E731


@dataclass(frozen=True, slots=True)
class Scenario:
    """``upstream``: (primary, fallback) requests expected, plain then streamed."""

    name: str
    primary: str | Callable[[Bounds], str]
    expect: str
    upstream: tuple[tuple[int, int], tuple[int, int]]
    allowance: Allowance = AT_ONCE
    outcome: str = "same"  # same: the healthy answer's text; complete: any whole answer; else "error:<code>"
    fallback: str = "ok"
    fallback_wire: str = "openai"
    requests: int = 1
    long_prompt: bool = False
    accounting: bool = False
    stream_expect: str = ""
    rescued: bool = False  # streamed: the gateway must count a rescued stream
    hedge: bool = False  # the one setting a row adds to the router: hedge_after_s (off by default)
    replicas: int = 1  # more than 1: gateway replicas sharing cool-downs through Redis (shared_cooldown)

    def script(self, bounds: Bounds) -> str:
        return self.primary(bounds) if callable(self.primary) else self.primary

    def expectation(self, stream: bool) -> str:
        return self.stream_expect if stream and self.stream_expect else self.expect


SCENARIOS = [
    Scenario(
        "429 with Retry-After",
        "429:7",
        "fails over at once; primary held back 7 s (2nd request skips it)",
        ((1, 2), (1, 2)),
        requests=2,
    ),
    Scenario(
        "429 shared by 2 replicas",
        "429:7",
        "shared_cooldown set: the 2nd replica skips the primary at once",
        ((1, 2), (1, 2)),
        requests=2,
        replicas=2,
    ),
    Scenario("429 without Retry-After", "429", "fails over at once", ((1, 1), (1, 1))),
    Scenario("500", "500", "fails over at once", ((1, 1), (1, 1))),
    Scenario("503", "503", "fails over at once", ((1, 1), (1, 1))),
    Scenario("TCP reset (no response)", "reset", "fails over at once", ((1, 1), (1, 1))),
    Scenario(
        "no response (hang)",
        "hang",
        "fails over after timeout_s",
        ((1, 1), (1, 1)),
        lambda b, s, h: (b.first_token_s if s else b.attempt_s) + SLACK_S,
        stream_expect="fails over after first_token_timeout_s",
    ),
    Scenario(
        "slow first token",
        lambda b: f"slow:{b.slow_s:g}",
        "the primary's late answer (within timeout_s)",
        ((1, 0), (1, 1)),
        lambda b, s, h: (b.first_token_s if s else b.slow_s) + SLACK_S,
        stream_expect="fails over after first_token_timeout_s",
    ),
    Scenario(
        "slow first token, hedged",
        lambda b: f"slow:{b.slow_s:g}",
        "hedge_after_s set: the fallback starts beside the late primary and wins",
        ((1, 1), (1, 1)),
        lambda b, s, h: b.hedge_s + SLACK_S,
        hedge=True,
    ),
    Scenario(
        "stream cut",
        "drop:0.5",
        "cut body: fails over",
        ((1, 1), (1, 1)),
        RESCUE,
        stream_expect="rescued: continues on the fallback, no text lost or repeated",
        rescued=True,
    ),
    Scenario(
        "in-band error event",
        "error_event:0.5",
        "no effect on a whole answer",
        ((1, 0), (1, 1)),
        RESCUE,
        stream_expect="rescued on the fallback",
        rescued=True,
    ),
    Scenario(
        "stream stall",
        "stall:0.5",
        "stalled body: fails over after timeout_s",
        ((1, 1), (1, 1)),
        lambda b, s, h: (b.stall_s + 1.0 if s else b.attempt_s) + SLACK_S,
        stream_expect="rescued after stall_timeout_s",
        rescued=True,
    ),
    Scenario(
        "malformed chunk",
        "malformed:0.5",
        "unparseable body: fails over",
        ((1, 1), (1, 0)),
        RESCUE,
        stream_expect="event skipped, answer whole",
    ),
    Scenario(
        "missing [DONE]",
        "no_done",
        "no effect on a whole answer",
        ((1, 0), (1, 0)),
        stream_expect="answer whole without [DONE]",
    ),
    Scenario(
        "context length",
        "ok",
        "400 context_length: fails over (larger window)",
        ((1, 1), (1, 1)),
        outcome="complete",
        long_prompt=True,
    ),
    Scenario(
        "content filter",
        "content_filter",
        "the provider's 400 content_filter, not failed over",
        ((1, 0), (1, 0)),
        outcome="error:content_filter",
    ),
    Scenario(
        "fallback rejecting prefill",
        "drop:0.5",
        "cut body: fails over (no prefill needed)",
        ((1, 1), (1, 2)),
        RESCUE,
        outcome="complete",
        fallback="no_prefill",
        fallback_wire="anthropic",
        stream_expect="prefill refused (400), same target asked to continue",
        rescued=True,
    ),
    Scenario(
        "flapping primary",
        "503,ok,503,503,503,ok",
        "8 requests all answered; breaker opens after 3 failures in a row",
        ((5, 7), (5, 7)),
        lambda b, s, h: 8 * SLACK_S,
        requests=8,
    ),
    Scenario(
        "fail-over accounting",
        "503",
        "usage and cost = the answering attempt's (the 503 is free)",
        ((1, 1), (1, 1)),
        RESCUE,
        accounting=True,
    ),
    Scenario(
        "rescue accounting",
        "drop:0.5",
        "cut body: usage = the fallback's (the cut one's is unknown)",
        ((1, 1), (1, 1)),
        RESCUE,
        accounting=True,
        stream_expect="usage and cost add up both attempts",
        rescued=True,
    ),
]


@dataclass(slots=True)
class Verdict:
    passed: bool
    extra_latency_s: float
    problems: list[str] = field(default_factory=list)
    unrescued: int = 0  # answers cut or stalled without rescue or a clear error


def judge(scenario: Scenario, run: Run, healthy: Call, bounds: Bounds, stream: bool) -> Verdict:
    """Whether ``run`` behaved as ``scenario`` expects, and what it added over ``healthy``."""
    problems: list[str] = []
    extra = sum(c.elapsed_s for c in run.calls) - len(run.calls) * healthy.elapsed_s
    unrescued = sum(1 for c in run.calls if (c.ok and c.finish != "stop") or (not c.ok and c.status is None))
    for call in run.calls:
        problems += _outcome_problems(scenario.outcome, call, healthy)
    want = scenario.upstream[stream]
    if (run.primary_requests, run.fallback_requests) != want:
        problems.append(f"upstream {run.primary_requests}+{run.fallback_requests}, expected {want[0]}+{want[1]}")
    allowed = scenario.allowance(bounds, stream, healthy.elapsed_s)
    if extra > allowed:
        problems.append(f"extra latency {extra:.1f} s > {allowed:.1f} s")
    if scenario.accounting:
        problems += _accounting_problems(run, healthy, scenario.script(bounds), stream)
    if stream and scenario.rescued and run.rescued < 1:
        problems.append("no rescue counted")
    return Verdict(not problems, extra, problems, unrescued)


def _outcome_problems(outcome: str, call: Call, healthy: Call) -> list[str]:
    if outcome.startswith("error:"):
        code = outcome.removeprefix("error:")
        return (
            []
            if not call.ok and call.code == code
            else [f"expected error {code}, got {call.code or call.error or 'an answer'}"]
        )
    if not call.ok:
        return [f"no answer: {call.status} {call.code or ''} {call.error}".strip()]
    if call.finish != "stop":
        return [f"finish_reason {call.finish!r}"]
    if outcome == "same" and call.text != healthy.text:
        return ["text differs from the healthy answer"]
    return [] if call.text else ["empty answer"]


def _accounting_problems(run: Run, healthy: Call, fault: str, stream: bool) -> list[str]:
    """Usage adds up every billed attempt and the cost is its price. A whole answer cut mid-body left
    no usage to read: only the answering attempt is billed (its prompt tokens are known, see the notes)."""
    call = run.calls[0]
    problems = []
    billed_whole = not stream and fault.startswith("drop")
    want_prompt = healthy.prompt_tokens if billed_whole else run.upstream_prompt_tokens
    if call.prompt_tokens != want_prompt:
        problems.append(f"prompt tokens {call.prompt_tokens} != {want_prompt}")
    top = healthy.completion_tokens if billed_whole or not stream else run.upstream_completion_tokens
    if not healthy.completion_tokens <= call.completion_tokens <= top:
        problems.append(f"completion tokens {call.completion_tokens} outside [{healthy.completion_tokens}, {top}]")
    priced = cost_of(Usage(call.prompt_tokens, call.completion_tokens), MODEL)
    if abs(run.cost_usd - priced) > 1e-9:
        problems.append(f"cost {run.cost_usd:.8f} != price of the usage {priced:.8f}")
    return problems
