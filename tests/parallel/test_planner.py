"""The batch planner: rows sorted over cache, realtime, flex and the Batch API, priced from the catalog."""

from inferopt.parallel.planner import Capacity, Rates, RowEstimate, allocate
from inferopt.pricing import cost_of
from inferopt.types import Usage

RATES = Rates.for_model("gpt-4o-mini")


def _rows(n: int) -> list[RowEstimate]:
    return [RowEstimate(i, 30, 5) for i in range(n)]


def test_a_deadline_past_the_batch_window_sends_everything_uncached_through_the_batch_api() -> None:
    plan = allocate(_rows(1000), {0, 1, 2}, RATES, Capacity(), deadline_s=48 * 3600)
    assert (plan.rows("cache"), plan.rows("batch"), plan.rows("realtime"), plan.rows("flex")) == (3, 997, 0, 0)
    assert plan.cost_usd == cost_of(Usage(997 * 30, 997 * 5), "gpt-4o-mini", batch=True)
    assert plan.finish_high_s == 24 * 3600  # the provider's promise bounds the uncertainty
    assert 0.49 < plan.cost_usd / plan.realtime_only_usd < 0.51


def test_a_short_deadline_fills_flex_as_far_as_it_fits_and_sends_the_rest_realtime() -> None:
    capacity = Capacity(concurrency=64, latency_s=1.0, flex_latency_s=3.0, flex_refusal=0.0)
    plan = allocate(_rows(20_000), (), RATES, capacity, deadline_s=600)
    flex, live = plan.rows("flex"), plan.rows("realtime")
    assert flex + live == 20_000 and 0 < flex < 20_000 and live > 0
    assert plan.finish_s <= 600 * capacity.safety + 1  # on time, with the margin
    one_more_flex = (flex + 1) / (64 / 3) + (live - 1) / 64
    assert one_more_flex > 600 * capacity.safety  # flex took as many rows as fit
    assert plan.realtime_only_usd > plan.cost_usd > plan.batch_only_usd  # type: ignore[operator]
    assert not plan.warnings


def test_a_deadline_the_limits_cannot_meet_says_how_far_off_and_what_to_change() -> None:
    plan = allocate(_rows(100_000), (), RATES, Capacity(rpm=600), deadline_s=3600)
    assert plan.rows("realtime") == 100_000 and plan.finish_s > 3600
    assert len(plan.warnings) == 1 and "raise --rpm" in plan.warnings[0]


def test_a_plan_over_its_budget_warns_naming_both_ways_out() -> None:
    plan = allocate(_rows(1000), (), RATES, Capacity(), deadline_s=600, budget_usd=0.000001)
    assert any("exceeds --budget" in w and "--deadline" in w for w in plan.warnings)


def test_the_tpm_limit_bounds_the_rate_by_tokens_per_row() -> None:
    assert Capacity(tpm=60_000, concurrency=10_000).rows_per_s(100, 1.0) == 60_000 * 0.98 / 60 / 100
