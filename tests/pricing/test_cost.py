"""Cost of a call, hand-computed from the published per-token prices.

The prices used below, in USD per token, as LiteLLM publishes them (and the bundled catalog holds
them per 1M tokens):

    gpt-4o             input 2.5e-06   cached 1.25e-06   output 1e-05    batch 1.25e-06 / 5e-06
    gpt-4.1            input 2e-06     cached 5e-07      output 8e-06    batch 1e-06 / 4e-06
    gpt-5              input 1.25e-06  cached 1.25e-07   output 1e-05    batch 6.25e-07 / 5e-06
    claude-sonnet-4-5  input 3e-06     read 3e-07        output 1.5e-05  batch 1.5e-06 / 7.5e-06
                       5m write 3.75e-06   1h write 6e-06
"""

from __future__ import annotations

import pytest

from inferopt.errors import PricingError, UnknownModelError
from inferopt.pricing import CostUnknownWarning, ModelPrice, PriceCatalog, cost_breakdown, cost_of
from inferopt.types import Usage

approx = pytest.approx


# --- OpenAI -----------------------------------------------------------------------------------

# 10,000 prompt tokens of which 4,000 were read from the cache, 500 output tokens.
GPT_USAGE = Usage(input_tokens=10_000, cache_read_tokens=4_000, output_tokens=500)


def test_gpt_4o_cached_reads_at_the_cache_price() -> None:
    breakdown = cost_breakdown(GPT_USAGE, "gpt-4o")
    assert breakdown.uncached_input == approx(6_000 * 2.5e-06)  # 0.015
    assert breakdown.cache_read == approx(4_000 * 1.25e-06)  # 0.005
    assert breakdown.output == approx(500 * 1e-05)  # 0.005
    assert cost_of(GPT_USAGE, "gpt-4o") == approx(0.015 + 0.005 + 0.005)  # 0.025


def test_gpt_4o_batch_is_half_price() -> None:
    # No cache discount in a gpt-4o batch: cached tokens cost the batch input price, 1.25e-06.
    expected = 6_000 * 1.25e-06 + 4_000 * 1.25e-06 + 500 * 5e-06  # 0.0075 + 0.005 + 0.0025
    assert cost_of(GPT_USAGE, "gpt-4o", batch=True) == approx(expected)  # 0.015
    no_cache = Usage(input_tokens=10_000, output_tokens=500)
    assert cost_of(no_cache, "gpt-4o", batch=True) == approx(cost_of(no_cache, "gpt-4o") / 2)


def test_gpt_4_1_batch_bills_cached_tokens_as_batch_input() -> None:
    breakdown = cost_breakdown(GPT_USAGE, "gpt-4.1", batch=True)
    assert breakdown.cache_read == approx(4_000 * 1e-06)  # batch input 1e-06, not 5e-07 or 2.5e-07
    assert breakdown.total == approx(6_000 * 1e-06 + 4_000 * 1e-06 + 500 * 4e-06)  # 0.012


def test_gpt_5_batch_halves_the_cached_price_too() -> None:
    breakdown = cost_breakdown(GPT_USAGE, "gpt-5", batch=True)
    assert breakdown.uncached_input == approx(6_000 * 6.25e-07)  # 0.00375
    assert breakdown.cache_read == approx(4_000 * 1.25e-07 * 0.5)  # 0.00025
    assert breakdown.output == approx(500 * 5e-06)  # 0.0025
    assert breakdown.total == approx(0.00375 + 0.00025 + 0.0025)


def test_openai_cache_writes_cost_the_input_price() -> None:
    usage = Usage(input_tokens=10_000, cache_write_tokens=10_000)
    assert cost_of(usage, "gpt-4o") == approx(10_000 * 2.5e-06)  # 0.025, no surcharge


# --- Anthropic --------------------------------------------------------------------------------

# 1,000 uncached + 20,000 cache-read + 8,000 cache-written (3,000 of them with a 1-hour TTL) prompt
# tokens = 29,000 input tokens; 2,000 output tokens.
CLAUDE_USAGE = Usage(
    input_tokens=29_000,
    cache_read_tokens=20_000,
    cache_write_tokens=8_000,
    cache_write_1h_tokens=3_000,
    output_tokens=2_000,
)


def test_claude_sonnet_4_5_cache_writes_reads_and_output() -> None:
    breakdown = cost_breakdown(CLAUDE_USAGE, "claude-sonnet-4-5")
    assert breakdown.uncached_input == approx(1_000 * 3e-06)  # 0.003
    assert breakdown.cache_read == approx(20_000 * 3e-07)  # 0.006
    assert breakdown.cache_write_5m == approx(5_000 * 3.75e-06)  # 0.01875
    assert breakdown.cache_write_1h == approx(3_000 * 6e-06)  # 0.018
    assert breakdown.output == approx(2_000 * 1.5e-05)  # 0.03
    assert breakdown.input == approx(0.003 + 0.006 + 0.01875 + 0.018)
    assert cost_of(CLAUDE_USAGE, "claude-sonnet-4-5") == approx(0.003 + 0.006 + 0.01875 + 0.018 + 0.03)


def test_claude_sonnet_4_5_batch_discount_stacks_with_cache_prices() -> None:
    breakdown = cost_breakdown(CLAUDE_USAGE, "claude-sonnet-4-5", batch=True)
    assert breakdown.uncached_input == approx(1_000 * 1.5e-06)  # 0.0015
    assert breakdown.cache_read == approx(20_000 * 3e-07 * 0.5)  # 0.003
    assert breakdown.cache_write_5m == approx(5_000 * 3.75e-06 * 0.5)  # 0.009375
    assert breakdown.cache_write_1h == approx(3_000 * 6e-06 * 0.5)  # 0.009
    assert breakdown.output == approx(2_000 * 7.5e-06)  # 0.015
    assert breakdown.total == approx(0.07575 / 2)  # 0.037875: every component halves


def test_cache_write_tokens_are_not_billed_twice() -> None:
    # All 10,000 prompt tokens were written to the cache: billed once, at the write price.
    usage = Usage(input_tokens=10_000, cache_write_tokens=10_000)
    breakdown = cost_breakdown(usage, "claude-sonnet-4-5")
    assert breakdown.uncached_input == 0.0
    assert breakdown.total == approx(10_000 * 3.75e-06)  # 0.0375
    assert breakdown.total != approx(10_000 * 3.75e-06 + 10_000 * 3e-06)  # 0.0675, the double bill


# --- unknown prices ---------------------------------------------------------------------------


def test_unknown_model_raises_with_a_suggestion() -> None:
    with pytest.raises(UnknownModelError, match=r"'claude-sonet-4-5'.*'claude-sonnet-4-5'"):
        cost_of(GPT_USAGE, "claude-sonet-4-5")


def test_unknown_model_with_on_unknown_zero_warns_and_returns_zero() -> None:
    with pytest.warns(CostUnknownWarning, match="'no-such-model'"):
        assert cost_of(GPT_USAGE, "no-such-model", on_unknown="zero") == 0.0
    with pytest.warns(CostUnknownWarning):
        breakdown = cost_breakdown(GPT_USAGE, "no-such-model", on_unknown="zero")
    assert breakdown.priced is False


def test_batch_without_a_batch_price_raises_naming_model_and_fix() -> None:
    with pytest.raises(PricingError) as caught:
        cost_of(GPT_USAGE, "gemini-exp-1206", batch=True)
    message = str(caught.value)
    assert "'gemini-exp-1206'" in message
    assert "batch_input" in message and "pricing.files" in message


def test_batch_without_a_batch_price_with_on_unknown_zero_warns() -> None:
    with pytest.warns(CostUnknownWarning, match="gemini-exp-1206"):
        assert cost_of(GPT_USAGE, "gemini-exp-1206", batch=True, on_unknown="zero") == 0.0


def test_unknown_cache_read_price_charges_the_input_price() -> None:
    # gemini-gemma-2-27b-it: input 3.5e-07 per token, no cache-read price.
    usage = Usage(input_tokens=1_000, cache_read_tokens=400)
    assert cost_of(usage, "gemini-gemma-2-27b-it") == approx(1_000 * 3.5e-07)


def test_unknown_1h_write_price_charges_the_stated_write_price() -> None:
    # gpt-5.6: cache write 5e-06 per token, no 1-hour price.
    usage = Usage(input_tokens=10_000, cache_write_tokens=10_000, cache_write_1h_tokens=4_000)
    assert cost_of(usage, "gpt-5.6") == approx(10_000 * 5e-06)


def test_unknown_batch_cache_rule_bills_cache_tokens_as_batch_input() -> None:
    # gemini-2.5-flash: batch input 1.5e-07 per token; cache read 3e-08 is not assumed in a batch.
    usage = Usage(input_tokens=1_000, cache_read_tokens=1_000)
    assert cost_of(usage, "gemini-2.5-flash", batch=True) == approx(1_000 * 1.5e-07)


def test_free_model_costs_zero_without_warning() -> None:
    breakdown = cost_breakdown(GPT_USAGE, "gemma-3-27b-it")
    assert (breakdown.total, breakdown.priced) == (0.0, True)


# --- catalogs and names -----------------------------------------------------------------------


def test_provider_prefixed_name_costs_the_same() -> None:
    assert cost_of(CLAUDE_USAGE, "anthropic/claude-sonnet-4-5") == cost_of(CLAUDE_USAGE, "claude-sonnet-4-5")


def test_custom_catalog_is_used() -> None:
    catalog = PriceCatalog({"house": ModelPrice(name="house", provider="x", input=1.0, output=2.0)})
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000)
    assert cost_of(usage, "house", catalog=catalog) == approx(1.0 + 1.0)  # 1M * $1/1M + 0.5M * $2/1M
    with pytest.raises(UnknownModelError):
        cost_of(usage, "gpt-4o", catalog=catalog)


# --- usage that breaks the token convention ---------------------------------------------------


def test_cache_tokens_beyond_input_tokens_are_rejected() -> None:
    # Anthropic's raw input_tokens excludes cache tokens; passing it through unadjusted is a bug.
    anthropic_raw = Usage(input_tokens=1_000, cache_read_tokens=20_000)
    with pytest.raises(ValueError, match="input_tokens must include cache tokens"):
        cost_of(anthropic_raw, "claude-sonnet-4-5")


def test_1h_writes_beyond_cache_writes_are_rejected() -> None:
    with pytest.raises(ValueError, match="cache_write_1h_tokens"):
        cost_of(Usage(input_tokens=10, cache_write_tokens=1, cache_write_1h_tokens=2), "gpt-4o")
