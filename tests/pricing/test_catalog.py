"""The price catalog: bundled prices, name lookup, user price files and LiteLLM files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from inferopt.errors import PricingError, UnknownModelError
from inferopt.pricing import ModelPrice, PriceCatalog, default_catalog
from inferopt.pricing.litellm_format import per_1m
from inferopt.pricing.policy import openai_generation

FIXTURES = Path(__file__).parent / "fixtures"
LITELLM_FILE = FIXTURES / "litellm_prices.json"
REPO = Path(__file__).resolve().parents[2]


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def our_file(tmp_path: Path, models: dict[str, Any], **top: Any) -> Path:
    document = {"currency": "USD", "unit": "per 1M tokens", "models": models, **top}
    return write_json(tmp_path / "prices.json", document)


# --- the bundled catalog ----------------------------------------------------------------------


def test_bundled_catalog_holds_the_125_reference_models() -> None:
    catalog = default_catalog()
    assert len(catalog) == 125
    assert {"gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro"} <= set(catalog.names())
    assert {p.provider for p in catalog.prices()} == {"openai", "anthropic", "gemini"}


def test_default_catalog_is_read_once() -> None:
    assert default_catalog() is default_catalog()


def test_prices_are_per_million_tokens_as_published() -> None:
    # LiteLLM: input 2.5e-06, cache read 1.25e-06, output 1e-05 USD per token.
    assert default_catalog().get("gpt-4o") == ModelPrice(
        name="gpt-4o",
        provider="openai",
        input=2.5,
        output=10.0,
        cache_read=1.25,
        cache_write_5m=2.5,  # OpenAI: no surcharge on cache writes before GPT-5.6
        cache_write_1h=2.5,
        batch_input=1.25,
        batch_output=5.0,
        batch_cache_discount=False,  # no cached-input discount in a gpt-4o batch
        context_window=128_000,
        max_output_tokens=16_384,
        derived=("cache_write_5m", "cache_write_1h", "batch_cache_discount"),
    )


def test_anthropic_prices_come_from_the_source_and_batch_discount_stacks() -> None:
    sonnet = default_catalog().get("claude-sonnet-4-5")
    assert (sonnet.input, sonnet.output, sonnet.cache_read) == (3.0, 15.0, 0.3)
    assert (sonnet.cache_write_5m, sonnet.cache_write_1h) == (3.75, 6.0)
    assert (sonnet.batch_input, sonnet.batch_output) == (1.5, 7.5)
    assert sonnet.batch_cache_discount is True
    assert sonnet.derived == ("batch_cache_discount",)


def test_missing_anthropic_batch_prices_are_derived_and_marked() -> None:
    mythos = default_catalog().get("claude-mythos-preview")  # the source gives no batch price
    assert (mythos.batch_input, mythos.batch_output) == (5.0, 25.0)  # 50% of 10 and 50
    assert {"batch_input", "batch_output"} <= set(mythos.derived)


def test_stated_openai_cache_write_price_is_kept() -> None:
    gpt56 = default_catalog().get("gpt-5.6")  # GPT-5.6 and later bill cache writes
    assert gpt56.cache_write_5m == 5.0
    assert gpt56.cache_write_1h is None
    assert "cache_write_5m" not in gpt56.derived


def test_gemini_prices_are_not_guessed() -> None:
    gemma = default_catalog().get("gemini-gemma-2-27b-it")
    assert gemma.cache_read is None
    assert gemma.batch_input is None
    assert gemma.derived == ()


def test_bundled_file_is_dated_and_says_its_unit() -> None:
    path = REPO / "src" / "inferopt" / "pricing" / "catalog-2026-11.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["date"] == "2026-11-26"
    assert (document["currency"], document["unit"]) == ("USD", "per 1M tokens")
    assert "LiteLLM" in document["source"]


def test_openai_generation_is_read_from_the_name() -> None:
    assert openai_generation("gpt-4o-mini") == "before-gpt-5"
    assert openai_generation("o4-mini") == "before-gpt-5"
    assert openai_generation("gpt-5.5-2026-04-23") == "gpt-5"
    assert openai_generation("gpt-5.6-luna") == "gpt-5.6-or-later"
    assert openai_generation("gpt-6-sol") == "gpt-5.6-or-later"
    assert openai_generation("chat-latest") is None


# --- lookup -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "found"),
    [
        ("gpt-4o", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("gemini/gemini-2.5-pro", "gemini-2.5-pro"),
    ],
)
def test_provider_prefix_is_stripped(asked: str, found: str) -> None:
    assert default_catalog().get(asked).name == found
    assert asked in default_catalog()


def test_exact_name_wins_over_the_stripped_one() -> None:
    special = ModelPrice(name="openai/gpt-4o", provider="openai", input=1.0, output=1.0)
    catalog = default_catalog().merged(PriceCatalog({"openai/gpt-4o": special}))
    assert catalog.get("openai/gpt-4o").input == 1.0
    assert catalog.get("gpt-4o").input == 2.5


def test_unknown_model_error_names_it_suggests_close_names_and_the_fix() -> None:
    with pytest.raises(UnknownModelError) as caught:
        default_catalog().get("claude-sonet-4-5")
    message = str(caught.value)
    assert "'claude-sonet-4-5'" in message
    assert "'claude-sonnet-4-5'" in message  # the suggestion
    assert "pricing.files" in message
    assert "PriceCatalog.load_file" in message


def test_unknown_model_error_without_close_names() -> None:
    with pytest.raises(UnknownModelError, match="no price for model 'zzz'") as caught:
        default_catalog().get("zzz")
    assert "Did you mean" not in str(caught.value)


# --- user price files in our schema -----------------------------------------------------------


def test_user_file_overrides_per_model_and_adds_new_ones(tmp_path: Path) -> None:
    path = our_file(
        tmp_path,
        {
            "gpt-4o": {"provider": "openai", "input": 2.0, "output": 8.0},
            "anthropic/house-model": {"provider": "anthropic", "input": 1.0, "output": 2.0},
        },
    )
    catalog = PriceCatalog.load_file(path)
    assert catalog.get("gpt-4o").input == 2.0
    assert catalog.get("gpt-4o").cache_read is None  # the file's entry replaces the whole model
    assert catalog.get("house-model").output == 2.0  # prefix stripped on load
    assert catalog.get("claude-sonnet-4-5").input == 3.0  # bundled prices are kept
    assert len(catalog) == len(default_catalog()) + 1
    assert default_catalog().get("gpt-4o").input == 2.5  # the shared default is untouched


def test_user_file_alone_with_an_empty_base(tmp_path: Path) -> None:
    path = our_file(tmp_path, {"m": {"provider": "x", "input": 1, "output": 2}})
    catalog = PriceCatalog.load_file(path, base=PriceCatalog())
    assert catalog.names() == ["m"]
    assert catalog.get("m").input == 1.0


def test_with_files_applies_files_in_order(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = our_file(tmp_path / "a", {"m": {"provider": "x", "input": 1, "output": 1}})
    second = our_file(tmp_path / "b", {"m": {"provider": "x", "input": 7, "output": 1}})
    assert default_catalog().with_files([first, second]).get("m").input == 7.0


@pytest.mark.parametrize(
    ("models", "top", "complaint"),
    [
        ({"m": {"provider": "x", "input": 1}}, {}, "missing required field(s) ['output']"),
        ({"m": {"provider": "x", "input": -1, "output": 1}}, {}, "'input' must be a non-negative number"),
        ({"m": {"provider": "x", "input": "1", "output": 1}}, {}, "'input' must be a non-negative number"),
        ({"m": {"provider": "x", "input": 1, "output": 1, "cache_reads": 1}}, {}, "['cache_reads']"),
        ({"m": {"provider": "x", "input": 1, "output": 1, "context_window": 1.5}}, {}, "'context_window'"),
        ({"m": [1, 2]}, {}, "model 'm': must be an object"),
        ({}, {"unit": "per token"}, "'unit' must be 'per 1M tokens'"),
        ({}, {"currency": "EUR"}, "'currency' must be 'USD'"),
    ],
)
def test_malformed_our_schema_file_names_file_and_problem(
    tmp_path: Path, models: dict[str, Any], top: dict[str, Any], complaint: str
) -> None:
    path = our_file(tmp_path, models, **top)
    with pytest.raises(PricingError) as caught:
        PriceCatalog.load_file(path)
    assert str(path) in str(caught.value)
    assert complaint in str(caught.value)


def test_file_in_neither_format_says_what_was_expected(tmp_path: Path) -> None:
    path = write_json(tmp_path / "other.json", {"gpt-4o": {"price": 1}})
    with pytest.raises(PricingError, match=r"other\.json: not a price file: expected our schema .* or LiteLLM's"):
        PriceCatalog.load_file(path)


def test_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"models": {', encoding="utf-8")
    with pytest.raises(PricingError, match=r"broken\.json: not valid JSON: .* line 1"):
        PriceCatalog.load_file(path)


def test_file_whose_top_level_is_not_an_object(tmp_path: Path) -> None:
    path = write_json(tmp_path / "list.json", [1, 2])
    with pytest.raises(PricingError, match=r"list\.json: expected a JSON object at the top level, got list"):
        PriceCatalog.load_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PricingError, match=r"nope\.json: cannot read price file"):
        PriceCatalog.load_file(tmp_path / "nope.json")


# --- LiteLLM-format files ---------------------------------------------------------------------


def test_litellm_file_is_converted_to_per_million_prices() -> None:
    catalog = PriceCatalog.load_litellm(LITELLM_FILE, base=PriceCatalog())
    gpt4o = catalog.get("gpt-4o")
    # 3e-06 and 1.2e-05 USD per token are 3 and 12 USD per 1M tokens.
    assert (gpt4o.input, gpt4o.output, gpt4o.cache_read) == (3.0, 12.0, 1.5)
    assert (gpt4o.batch_input, gpt4o.batch_output) == (1.5, 6.0)
    assert (gpt4o.context_window, gpt4o.max_output_tokens) == (128_000, 16_384)
    assert gpt4o.cache_write_5m == 3.0  # OpenAI policy: writes at the input price
    assert "cache_write_5m" in gpt4o.derived


def test_litellm_file_keeps_only_chat_models() -> None:
    catalog = PriceCatalog.load_litellm(LITELLM_FILE, base=PriceCatalog())
    assert catalog.names() == ["claude-test-1", "gemini-test", "gpt-4o", "o9-pro"]


def test_litellm_entry_keyed_by_its_own_provider_beats_another_providers_plain_name() -> None:
    # "gemini/gemini-test" (Gemini API) and "gemini-test" (Vertex AI) both become "gemini-test".
    gemini = PriceCatalog.load_litellm(LITELLM_FILE, base=PriceCatalog()).get("gemini-test")
    assert (gemini.provider, gemini.input, gemini.cache_read) == ("gemini", 0.5, 0.05)


def test_litellm_anthropic_entry_gets_policy_prices() -> None:
    claude = PriceCatalog.load_litellm(LITELLM_FILE, base=PriceCatalog()).get("claude-test-1")
    # input 2 USD per 1M: read 0.1x = 0.2, 5m write 1.25x = 2.5, 1h write 2x = 4, batch 50% = 1 and 5.
    assert (claude.cache_read, claude.cache_write_5m, claude.cache_write_1h) == (0.2, 2.5, 4.0)
    assert (claude.batch_input, claude.batch_output) == (1.0, 5.0)
    assert claude.batch_cache_discount is True
    assert set(claude.derived) == {
        "cache_read",
        "cache_write_5m",
        "cache_write_1h",
        "batch_input",
        "batch_output",
        "batch_cache_discount",
    }


def test_load_file_detects_litellm_format_and_overrides_bundled_prices() -> None:
    catalog = PriceCatalog.load_file(LITELLM_FILE)
    assert catalog.get("gpt-4o").input == 3.0
    assert catalog.get("claude-sonnet-4-5").input == 3.0
    assert "text-embedding-3-small" not in catalog


def test_malformed_litellm_entry_names_file_model_and_field(tmp_path: Path) -> None:
    bad = {"m": {"input_cost_per_token": "cheap", "output_cost_per_token": 1e-06, "mode": "chat"}}
    path = write_json(tmp_path / "litellm.json", bad)
    with pytest.raises(PricingError) as caught:
        PriceCatalog.load_file(path)
    assert str(path) in str(caught.value)
    assert "model 'm': input_cost_per_token must be a number" in str(caught.value)


def test_per_token_to_per_million_has_no_float_noise() -> None:
    assert 1e-07 * 1_000_000 != 0.1  # the noise this guards against: 0.09999999999999999
    assert per_1m(1e-07) == 0.1
    assert per_1m(1.6e-06) == 1.6
    assert per_1m(5e-09) == 0.005


# --- the build script -------------------------------------------------------------------------


def test_build_script_output_reads_back_as_the_same_prices(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_catalog", REPO / "scripts" / "build_catalog.py")
    assert spec is not None and spec.loader is not None
    build_catalog = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_catalog)

    litellm = json.loads(LITELLM_FILE.read_text(encoding="utf-8"))
    snapshot = {
        "models": {
            name: {**entry, "provider": entry["litellm_provider"]}
            for name, entry in litellm.items()
            if name in ("gpt-4o", "claude-test-1")
        }
    }
    built = tmp_path / "catalog.json"
    built.write_text(build_catalog.render(build_catalog.build(snapshot)), encoding="utf-8")

    from_build = PriceCatalog.load_file(built, base=PriceCatalog())
    from_litellm = PriceCatalog.load_litellm(LITELLM_FILE, base=PriceCatalog())
    for name in ("gpt-4o", "claude-test-1"):
        assert from_build.get(name) == from_litellm.get(name)


def test_catalog_date_constant_matches_the_bundled_file() -> None:
    import json
    from importlib import resources

    from inferopt.pricing.catalog import BUNDLED_CATALOG, CATALOG_DATE

    data = json.loads(resources.files("inferopt.pricing").joinpath(BUNDLED_CATALOG).read_text())
    assert data["date"] == CATALOG_DATE
