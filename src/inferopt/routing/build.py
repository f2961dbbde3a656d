"""Routers from config: the ``routers:`` section of ``inferopt.yaml``, used as ``model="router/<name>"``.

::

    routers:
      by-task:   {kind: rules, rules: {code/high: smart, "*/low": fast}, default: fast}
      cheap-first:
        kind: cascade
        stages:
          - {model: fast, check: {agreement: [fast-2]}, threshold: 1.0}
          - {model: smart}
      knn:       {kind: learned, path: router.npz, names: {gpt-4-1106-preview: smart}, cost_weight: 1.0}
      patterns:  {kind: answer-cascade, path: cascade.npz, names: {gpt-4-1106-preview: smart}}  # escalate_at: knob
      safe:      {kind: fallback, order: [fast, smart], first_token_timeout_s: 20, stall_timeout_s: 15, deadline_s: 90}
      hedged:    {kind: fallback, order: [fast, smart], hedge_after_s: 2}   # a second attempt after 2 s
      shared:    {kind: fallback, order: [fast, smart], shared_cooldown: "redis://127.0.0.1:6379/0"}
      spread:    {kind: balanced, targets: [east, west], strategy: least_busy}

Targets are model names (aliases, ``provider/model``...) that ``target`` turns into Models: the
client hands each router the stacked, priced Model of each name, so a router is a Model over Models
and every attempt goes through the configured stack and is priced once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from inferopt.errors import ConfigError
from inferopt.routing.cascade import Cascade, Stage
from inferopt.routing.checks import Agreement, Check, Judge, LogprobConfidence
from inferopt.routing.fallback import Balanced, Fallback
from inferopt.routing.rules import RuleRouter
from inferopt.types import Model

TargetFactory = Callable[[str], Model]
KINDS = ("rules", "cascade", "learned", "answer-cascade", "fallback", "balanced")
ROUTER_PREFIX = "router/"


def build_router(name: str, options: Mapping[str, Any], target: TargetFactory, source: str | None = None) -> Model:
    """The router ``name`` described by ``options``; bad options are a ConfigError naming the key."""
    opts = dict(options)
    kind = opts.pop("kind", None)
    key = f"routers.{name}"
    try:
        if kind == "rules":
            rules = opts.pop("rules")
            default = opts.pop("default", None)
            names = {*rules.values(), *([default] if default else [])}
            router: Model = RuleRouter(rules, _targets(names, target), default=default, name=name)
        elif kind == "cascade":
            stages = [_stage(s, i, key, source) for i, s in enumerate(opts.pop("stages"))]
            names = {s.model for s in stages} | {n for s in stages for n in _check_models(s.check)}
            router = Cascade(stages, _targets(names, target), name=name)
        elif kind == "learned":
            from inferopt.routing.learned import KnnRouter
            from inferopt.routing.learned_model import LearnedRouter

            knn = KnnRouter.load(opts.pop("path"))
            mapping = dict(opts.pop("names", {}))
            names = {mapping.get(m, m) for m in knn.models}
            router = LearnedRouter(
                knn, _targets(names, target), names=mapping, cost_weight=opts.pop("cost_weight", None), name=name
            )
        elif kind == "answer-cascade":
            from inferopt.routing.answer_cascade_file import load_pattern_cascade
            from inferopt.routing.answer_cascade_model import AnswerCascade

            pattern_cascade, trained_knob = load_pattern_cascade(opts.pop("path"))
            mapping = dict(opts.pop("names", {}))
            names = {mapping.get(m, m) for m in (*pattern_cascade.cheap, pattern_cascade.strong)}
            router = AnswerCascade(
                pattern_cascade,
                _targets(names, target),
                escalate_at=float(opts.pop("escalate_at", trained_knob)),
                names=mapping,
                name=name,
            )
        elif kind == "fallback":
            order = list(opts.pop("order"))
            router = Fallback(_targets(order, target), order, name=name, **_breaker_options(opts))
        elif kind == "balanced":
            names_list = list(opts.pop("targets"))
            router = Balanced(
                _targets(names_list, target),
                strategy=opts.pop("strategy", "weighted"),
                weights=opts.pop("weights", None),
                name=name,
                **_breaker_options(opts),
            )
        else:
            raise ConfigError(f"kind is {kind!r}; use one of {KINDS}", file=source, key=f"{key}.kind")
    except KeyError as exc:
        raise ConfigError(f"missing option {exc.args[0]!r} for a {kind} router", file=source, key=key) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad options: {exc}", file=source, key=key) from None
    if opts:
        raise ConfigError(f"unknown options {sorted(opts)} for a {kind} router", file=source, key=key)
    return router


def _targets(names: Any, target: TargetFactory) -> dict[str, Model]:
    return {n: target(n) for n in names}


def _breaker_options(opts: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "timeout_s",
        "first_token_timeout_s",
        "stall_timeout_s",
        "deadline_s",
        "hedge_after_s",
        "shared_cooldown",
        "failure_threshold",
        "cooldown_s",
    )
    return {k: opts.pop(k) for k in keys if k in opts}


def _stage(raw: Mapping[str, Any], index: int, key: str, source: str | None) -> Stage:
    raw = dict(raw)
    check = _check(raw.pop("check", None), f"{key}.stages[{index}].check", source)
    stage = Stage(raw.pop("model"), check, float(raw.pop("threshold", 0.5)))
    if raw:
        raise ConfigError(f"unknown stage options {sorted(raw)}", file=source, key=f"{key}.stages[{index}]")
    return stage


def _check(raw: Mapping[str, Any] | None, key: str, source: str | None) -> Check | None:
    if raw is None:
        return None
    if len(raw) != 1:
        raise ConfigError("a check has exactly one key: agreement, judge, logprob or scorer", file=source, key=key)
    ((kind, value),) = raw.items()
    if kind == "agreement":
        return Agreement(list(value))
    if kind == "judge":
        return Judge(str(value))
    if kind == "logprob":
        return LogprobConfidence()
    if kind == "scorer":  # a saved AnswerScorer (routing/scorer.py)
        from inferopt.routing.scorer import AnswerScorer, LearnedScorer

        return LearnedScorer(AnswerScorer.load(str(value)))
    raise ConfigError(f"check {kind!r} is unknown; use agreement, judge, logprob or scorer", file=source, key=key)


def _check_models(check: Check | None) -> list[str]:
    if isinstance(check, Agreement):
        return list(check.others)
    if isinstance(check, Judge):
        return [check.model]
    return []
