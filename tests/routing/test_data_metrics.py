"""Loaders of recorded outcomes and the routing metrics, on small fixture files."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from inferopt.errors import OutcomeDataError
from inferopt.routing.data import read_routellm_mmlu
from inferopt.routing.evaluate import evaluate, oracle_report, random_router_report
from inferopt.routing.metrics import Point, aiq, apgr, cpt, pgr, upper_hull
from inferopt.routing.outcome_files import read_outcomes

FIXTURES = Path(__file__).parent / "fixtures"


def test_routerbench_loader_reads_models_costs_groups_and_list_prompts() -> None:
    data = read_outcomes(FIXTURES / "mini_routerbench.csv")
    assert data.models == ("gpt-4o-mini", "claude-haiku-4-5", "gpt-4o")
    assert len(data) == 60
    assert data.prompts[0] == "What is the capital city of France? Reply with the city name only."
    assert set(data.groups) == {"capitals", "arith"}
    assert data.mean_accuracy("gpt-4o") == 1.0
    assert data.mean_cost("gpt-4o-mini") == pytest.approx(0.0001)


def test_routellm_loader_drops_contaminated_prompts_and_prices_by_published_rates() -> None:
    data = read_routellm_mmlu(FIXTURES / "mmlu", FIXTURES / "mmlu_contaminated_prompts.jsonl")
    assert len(data) == 59  # 60 prompts, one listed as contaminated
    weak, strong = data.cost[0]
    assert strong / weak == pytest.approx(24.7 / 0.24)
    assert set(data.groups) == {"geography", "arithmetic"}


def test_split_is_seeded_disjoint_and_covers_every_group() -> None:
    data = read_outcomes(FIXTURES / "mini_routerbench.csv")
    train, test = data.split(0.25, seed=3)
    assert not set(train.prompts) & set(test.prompts)
    assert len(train) + len(test) == len(data)
    assert set(train.groups) == set(test.groups) == {"capitals", "arith"}
    again, _ = data.split(0.25, seed=3)
    other, _ = data.split(0.25, seed=4)
    assert again.prompts == train.prompts and other.prompts != train.prompts


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(OutcomeDataError, match="not a RouterBench CSV"):
        read_outcomes(bad)
    with pytest.raises(OutcomeDataError, match="no such file"):
        read_outcomes(tmp_path / "missing.csv")


def test_pgr_apgr_cpt_on_known_curves() -> None:
    assert pgr(0.75, weak=0.5, strong=1.0) == 0.5
    diagonal = [Point(0, 0.5 + 0.5 * s, s) for s in (0.0, 0.5, 1.0)]
    assert apgr(diagonal, 0.5, 1.0) == pytest.approx(0.5)
    assert cpt(diagonal, 0.5, 1.0, 0.5) == pytest.approx(0.5)
    assert cpt(diagonal, 0.5, 1.0, 0.8) == pytest.approx(0.8)
    perfect = [Point(0, 0.5, 0.0), Point(0, 1.0, 0.2)]  # all the gain with 20% strong calls
    assert apgr(perfect, 0.5, 1.0) == pytest.approx(0.2 * 0.5 + 0.8)
    assert cpt(perfect, 0.5, 1.0, 0.5) == pytest.approx(0.1)


def test_hull_is_non_decreasing_and_convex_and_aiq_integrates_it() -> None:
    points = [Point(0, 0.5), Point(1, 0.6), Point(2, 1.0), Point(3, 0.9)]
    hull = upper_hull(points)
    assert [(p.cost, p.quality) for p in hull] == [(0, 0.5), (2, 1.0)]  # (1, .6) under the chord; (3, .9) dominated
    # 0..2 rises linearly 0.5 -> 1.0 (area 1.5), 2..4 flat at 1.0 (area 2): mean over 4 is 0.875.
    assert aiq(points, 0, 4) == pytest.approx(0.875)
    assert aiq([Point(1, 1.0)], 0, 2) == pytest.approx(0.5)  # nothing achievable below the cheapest point


def test_random_router_is_about_half_apgr_and_oracle_is_the_cheapest_correct_model() -> None:
    rng = random.Random(0)
    from inferopt.routing.data import Outcomes

    rows = 4000
    correct = tuple((float(rng.random() < 0.6), float(rng.random() < 0.8)) for _ in range(rows))
    data = Outcomes(tuple(map(str, range(rows))), ("weak", "strong"), correct, ((0.1, 1.0),) * rows, ("g",) * rows)
    reports = {r.name: r for r in evaluate(data, {})}
    assert reports["random"].metrics["apgr"] == pytest.approx(0.5, abs=0.03)
    oracle = oracle_report(data).points[0]
    assert oracle.accuracy == pytest.approx(sum(max(c) for c in correct) / rows)
    assert oracle.cost_per_query < reports["strong"].points[0].cost_per_query
    assert len(random_router_report(data, steps=4).points) == 5
