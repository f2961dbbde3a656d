"""RouteLLM's decile APGR, the cost to reach an accuracy, and RouterArena's score, on hand-checked cases."""

from __future__ import annotations

import random

import pytest

from inferopt.routing.data import Outcomes
from inferopt.routing.evaluate import OperatingPoint, oracle_curve_report, routellm_apgr
from inferopt.routing.metrics import Point, apgr_by_cost
from inferopt.routing.summary import arena_score, cost_to_reach, measured_cost_to_reach


def _two_model_data(correct: list[tuple[float, float]]) -> Outcomes:
    n = len(correct)
    return Outcomes(tuple(map(str, range(n))), ("weak", "strong"), tuple(correct), ((0.1, 1.0),) * n, ("g",) * n)


def test_routellm_apgr_is_half_for_random_scores_and_higher_for_informed_ones() -> None:
    rng = random.Random(1)
    correct = [(float(rng.random() < 0.6), float(rng.random() < 0.8)) for _ in range(4000)]
    data = _two_model_data(correct)
    blind, points = routellm_apgr(data, [rng.random() for _ in correct])
    assert blind == pytest.approx(0.5, abs=0.03)
    assert len(points) == 11  # ten bins: eleven edges, as pd.qcut(..., 10, retbins=True)
    informed, _ = routellm_apgr(data, [s - w + rng.random() * 0.1 for w, s in correct])  # knows who wins
    assert informed > 0.75


def test_routellm_apgr_by_hand_on_four_rows() -> None:
    # weak right on rows 0-1, strong right on rows 0-2: weak 0.5, strong 0.75. The scores put row 2
    # (the only one where strong wins) first, so any strong share >= 25% recovers the whole gap.
    data = _two_model_data([(1, 1), (1, 1), (0, 1), (0, 0)])
    apgr, points = routellm_apgr(data, [0.0, 0.1, 0.9, 0.2], bins=4)
    shares = [p.call_share["strong"] for p in points]
    assert shares == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert [p.accuracy for p in points] == [0.5, 0.75, 0.75, 0.75, 0.75]
    # area under accuracy: 0.25*(0.5+0.75)/2 + 0.75*0.75 = 0.71875; minus weak 0.5, over the gap 0.25
    assert apgr == pytest.approx((0.71875 - 0.5) / 0.25)


def test_cost_to_reach_reads_the_hull_and_measured_points_do_not_mix() -> None:
    points = [OperatingPoint(0, 0.5, 1.0, {}), OperatingPoint(1, 0.9, 3.0, {}), OperatingPoint(2, 0.6, 2.5, {})]
    assert cost_to_reach(points, 0.7) == pytest.approx(2.0)  # halfway along the mix of 1.0 and 3.0
    assert measured_cost_to_reach(points, 0.7) == 3.0
    assert cost_to_reach(points, 0.4) == 1.0
    assert cost_to_reach(points, 0.95) is None and measured_cost_to_reach(points, 0.95) is None


def test_arena_score_rewards_accuracy_and_cheapness_on_routerarenas_range() -> None:
    cheapest = 0.0044 / 1000  # RouterArena's c_min, per query: cost score 1
    assert arena_score(0.8, cheapest) == pytest.approx(1.1 * 0.8 / (0.1 * 0.8 + 1.0))
    assert arena_score(0.8, 200 / 1000) == 0.0  # c_max: cost score 0
    assert arena_score(0.8, 0.001) > arena_score(0.7, 0.001)
    assert arena_score(0.8, 0.001) > arena_score(0.8, 0.01)


def test_oracle_curve_sends_the_rows_where_strong_gains_first() -> None:
    # weak right on 0-1, strong right on 0-2: only row 2 gains, so 25% of strong calls reach the top.
    data = _two_model_data([(1, 1), (1, 1), (0, 1), (0, 0)])
    curve = {p.knob: p.accuracy for p in oracle_curve_report(data, steps=4).points}
    assert curve == {0.0: 0.5, 0.25: 0.75, 0.5: 0.75, 0.75: 0.75, 1.0: 0.75}


def test_apgr_by_cost_is_half_for_a_straight_mix_and_one_for_the_strong_accuracy_at_the_weak_cost() -> None:
    weak, strong = Point(1.0, 0.5), Point(3.0, 0.9)
    assert apgr_by_cost([Point(2.0, 0.7)], weak, strong) == pytest.approx(0.5)  # on the straight line
    assert apgr_by_cost([Point(1.0, 0.9)], weak, strong) == pytest.approx(1.0)
    assert apgr_by_cost([Point(2.0, 0.9)], weak, strong) == pytest.approx(0.75)  # halfway there, then flat
