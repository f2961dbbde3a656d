"""Constraint-based selection, its reasons, and the error that names the closest option."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferopt.errors import NoFeasibleOptionError
from inferopt.tradeoff import Option, load_options, requirements, select

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rag_chatbot_options.csv"


def test_classic_worked_example_selection() -> None:
    options = load_options(EXAMPLE)
    choice = select(options, requirements(max_latency=1.0, max_cost=5.0, min_quality=0.85))
    assert choice.chosen.name == "GPT-3.5 + caching + prompt eng"
    assert [o.name for o in choice.feasible] == ["GPT-3.5 + caching + prompt eng"]
    text = "\n".join(choice.reasons)
    assert "latency_p95 0.7 <= 1" in text and "quality 0.85 >= 0.85" in text
    assert "rejected 'GPT-4-turbo + caching' (on the front): latency_p95 1.2 > 1" in text


def test_loose_requirements_choose_the_highest_quality_then_the_cheapest() -> None:
    options = load_options(EXAMPLE)
    # GPT-4 + caching and GPT-4 no caching tie on quality 0.92; the cheaper one wins.
    assert select(options).chosen.name == "GPT-4 + caching"
    assert select(options, requirements(max_cost=5.0)).chosen.name == "GPT-4-turbo + caching"


def test_no_feasible_option_names_the_closest_and_what_it_misses() -> None:
    options = load_options(EXAMPLE)
    with pytest.raises(NoFeasibleOptionError) as caught:
        select(options, requirements(max_latency=0.5, min_quality=0.9))
    assert caught.value.closest == "GPT-3.5 + caching"
    assert "latency_p95 0.6 > 0.5" in str(caught.value) and "quality 0.78 < 0.9" in str(caught.value)


def test_a_dominated_option_is_chosen_only_when_its_dominators_are_infeasible() -> None:
    options = [
        Option("best", {"latency_p95": 0.5, "cost_per_1k": 1.0, "quality": 0.95, "tokens": 900}),
        Option("ok", {"latency_p95": 0.6, "cost_per_1k": 1.1, "quality": 0.9, "tokens": 100}),
    ]
    from inferopt.tradeoff import Bound

    choice = select(options, [Bound("tokens", "max", 500)])
    assert choice.chosen.name == "ok"
    assert any("dominate it (best) miss a requirement" in r for r in choice.reasons)
