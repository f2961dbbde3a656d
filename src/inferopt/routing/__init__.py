"""Routing: rule routers, cascades with quality checks, learned routers, fallbacks and balancing,
and their offline evaluation on recorded model outcomes. See docs/routing.md.

Every router is a Model over other Models; ``route`` on its answer says what it did.
"""

from inferopt.routing.answer_cascade import PatternCascade, replay_pattern_cascade
from inferopt.routing.answer_cascade_model import AnswerCascade
from inferopt.routing.attempts import CircuitBreaker
from inferopt.routing.cascade import Cascade, Stage
from inferopt.routing.checks import Agreement, CheckResult, Judge, LogprobConfidence, Verifier
from inferopt.routing.classify import Classification, classify
from inferopt.routing.data import Outcomes, read_routellm_mmlu, read_routerbench
from inferopt.routing.evaluate import RouterReport, evaluate
from inferopt.routing.fallback import Balanced, Fallback
from inferopt.routing.learned import KnnRouter
from inferopt.routing.learned_model import LearnedRouter
from inferopt.routing.metrics import aiq, apgr, cpt, pgr
from inferopt.routing.mt_bench import read_mt_bench
from inferopt.routing.outcome_files import read_outcomes
from inferopt.routing.rules import RuleRouter

__all__ = [
    "Agreement",
    "AnswerCascade",
    "Balanced",
    "Cascade",
    "CheckResult",
    "CircuitBreaker",
    "Classification",
    "Fallback",
    "Judge",
    "KnnRouter",
    "LearnedRouter",
    "LogprobConfidence",
    "Outcomes",
    "PatternCascade",
    "RouterReport",
    "RuleRouter",
    "Stage",
    "Verifier",
    "aiq",
    "apgr",
    "classify",
    "cpt",
    "evaluate",
    "pgr",
    "read_mt_bench",
    "read_outcomes",
    "read_routellm_mmlu",
    "read_routerbench",
    "replay_pattern_cascade",
]
