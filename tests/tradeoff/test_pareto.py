"""The Pareto front and the non-dominated sort, checked against the definition."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from inferopt.errors import ConfigError
from inferopt.tradeoff import (
    COST,
    LATENCY,
    QUALITY,
    Objective,
    Option,
    dominated_by,
    load_options,
    non_dominated_sort,
    pareto_front,
)
from inferopt.tradeoff.pareto import dominates

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rag_chatbot_options.csv"


def brute_force_front(options: list[Option], objectives: list[Objective]) -> list[str]:
    def key(o: Option) -> tuple[float, ...]:
        return tuple(o.values[j.name] * (1 if j.direction == "min" else -1) for j in objectives)

    return [o.name for o in options if not any(dominates(key(p), key(o)) for p in options)]


def test_classic_worked_example_front_is_four_options_including_the_fastest_cheapest() -> None:
    options = load_options(EXAMPLE)
    front = {o.name for o in pareto_front(options)}
    assert front == {
        "GPT-3.5 + caching",
        "GPT-3.5 + caching + prompt eng",
        "GPT-4-turbo + caching",
        "GPT-4 + caching",
    }
    cheapest = min(options, key=lambda o: o.values["cost_per_1k"])
    assert cheapest.name == "GPT-3.5 + caching" and dominated_by(cheapest, options) == []
    assert [o.name for o in dominated_by(options[0], options)] == ["GPT-4 + caching"]


@pytest.mark.parametrize("dimensions", [1, 2, 3, 4])
def test_front_matches_the_definition_on_random_tables_with_ties(dimensions: int) -> None:
    rng = random.Random(dimensions)
    objectives = [Objective(f"o{i}", rng.choice(["min", "max"])) for i in range(dimensions)]
    # Few distinct values: many exact ties and duplicates, where sweeps usually go wrong.
    options = [Option(f"x{n}", {o.name: float(rng.randint(0, 6)) for o in objectives}) for n in range(300)]
    assert [o.name for o in pareto_front(options, objectives)] == brute_force_front(options, objectives)


def test_non_dominated_sort_peels_fronts_and_keeps_every_option_once() -> None:
    rng = random.Random(7)
    objectives = [LATENCY, COST, QUALITY]
    options = [
        Option(f"x{n}", {"latency_p95": rng.random(), "cost_per_1k": rng.random(), "quality": rng.random()})
        for n in range(200)
    ]
    fronts = non_dominated_sort(options, objectives)
    assert sorted(o.name for f in fronts for o in f) == sorted(o.name for o in options)
    assert [o.name for o in fronts[0]] == brute_force_front(options, objectives)
    rest = [o for o in options if o not in fronts[0]]
    assert [o.name for o in fronts[1]] == brute_force_front(rest, objectives)


def test_thousands_of_options_compare_only_against_the_front() -> None:
    rng = random.Random(3)
    options = [
        Option(f"x{n}", {"latency_p95": rng.random(), "cost_per_1k": rng.random(), "quality": rng.random()})
        for n in range(5000)
    ]
    calls = 0
    import inferopt.tradeoff.pareto as module

    original = module.dominates

    def counting(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        nonlocal calls
        calls += 1
        return original(a, b)

    module.dominates = counting  # type: ignore[assignment]
    try:
        front = pareto_front(options)
    finally:
        module.dominates = original
    # n^2 would be 25 million comparisons; sort-filter-skyline needs at most n * |front|.
    assert 0 < calls <= len(options) * len(front) < len(options) ** 2 / 10


def test_two_objectives_take_the_sweep_and_agree_with_the_definition() -> None:
    options = [
        Option("a", {"cost_per_1k": 1, "quality": 0.5}),
        Option("b", {"cost_per_1k": 1, "quality": 0.7}),
        Option("c", {"cost_per_1k": 2, "quality": 0.7}),
        Option("d", {"cost_per_1k": 2, "quality": 0.9}),
        Option("d2", {"cost_per_1k": 2, "quality": 0.9}),
    ]
    assert [o.name for o in pareto_front(options, [COST, QUALITY])] == ["b", "d", "d2"]


def test_missing_column_and_bad_direction_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match=r"no value for objective 'quality'.*cost_per_1k"):
        pareto_front([Option("a", {"cost_per_1k": 1})], [COST, QUALITY])
    with pytest.raises(ConfigError, match="direction must be 'min' or 'max'"):
        Objective.parse("quality:best")


def test_jsonl_options_with_renamed_columns(tmp_path: Path) -> None:
    file = tmp_path / "options.jsonl"
    file.write_text(
        '{"config": "small", "p95_s": 0.4, "usd_1k": 1.0, "acc": 0.7}\n'
        '{"config": "large", "p95_s": 1.5, "usd_1k": 9.0, "acc": 0.9}\n'
        '{"config": "bad", "p95_s": 2.0, "usd_1k": 9.5, "acc": 0.8}\n',
        encoding="utf-8",
    )
    options = load_options(
        file, name_column="config", rename={"p95_s": "latency_p95", "usd_1k": "cost_per_1k", "acc": "quality"}
    )
    assert [o.name for o in pareto_front(options)] == ["small", "large"]
