"""OpenAI's flex tier is billed at Batch API rates, from the catalog."""

from inferopt.pricing import cost_breakdown, cost_of
from inferopt.types import Usage


def test_flex_costs_what_a_batch_costs_and_half_the_standard_price() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    standard = cost_of(usage, "gpt-4o-mini")
    flex = cost_of(usage, "gpt-4o-mini", tier="flex")
    assert flex == cost_of(usage, "gpt-4o-mini", batch=True)
    assert flex == standard / 2
    assert cost_breakdown(usage, "gpt-4o-mini", tier="flex").batch is True
    assert cost_of(usage, "gpt-4o-mini", tier="standard") == standard
