"""Effective-dated prices: a price change on a date bills calls made before it at the old price."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inferopt.errors import PricingError
from inferopt.monitor import Metered, RequestRecord
from inferopt.pricing import PriceCatalog, cost_of, default_catalog
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest, ChatResponse, Usage

USAGE = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
BEFORE = datetime(2026, 11, 30, 23, 59, tzinfo=UTC).timestamp()
AFTER = datetime(2026, 12, 1, 0, 1, tzinfo=UTC).timestamp()


def price_file(tmp_path: Path, **entry: object) -> Path:
    path = tmp_path / "prices.json"
    model = {"provider": "openai", "input": 1.0, "output": 2.0, "effective_from": "2026-12-01", **entry}
    path.write_text(json.dumps({"currency": "USD", "unit": "per 1M tokens", "models": {"gpt-4o": model}}))
    return path


def test_a_dated_change_keeps_the_old_price_for_earlier_calls(tmp_path: Path) -> None:
    old = default_catalog().get("gpt-4o")
    catalog = PriceCatalog.load_file(price_file(tmp_path))
    assert catalog.get("gpt-4o", at=BEFORE) == old
    assert (catalog.get("gpt-4o", at=AFTER).input, catalog.get("gpt-4o", at=AFTER).output) == (1.0, 2.0)
    assert [p.effective_from for p in catalog.history("gpt-4o")] == [None, "2026-12-01"]
    assert cost_of(USAGE, "gpt-4o", catalog=catalog, at=BEFORE) == pytest.approx(old.input + old.output)
    assert cost_of(USAGE, "gpt-4o", catalog=catalog, at=AFTER) == pytest.approx(3.0)
    assert catalog.get("openai/gpt-4o", at=BEFORE) == old  # the provider prefix finds the same history


def test_a_second_dated_change_stacks_and_an_out_of_order_one_is_refused(tmp_path: Path) -> None:
    first = PriceCatalog.load_file(price_file(tmp_path))
    later = tmp_path / "later.json"
    entry = {"provider": "openai", "input": 0.5, "output": 1.0, "effective_from": "2027-01-01"}
    later.write_text(json.dumps({"currency": "USD", "unit": "per 1M tokens", "models": {"gpt-4o": entry}}))
    both = PriceCatalog.load_file(later, base=first)
    assert both.get("gpt-4o", at=AFTER).input == 1.0
    assert both.get("gpt-4o", at=datetime(2027, 1, 2, tzinfo=UTC).timestamp()).input == 0.5
    with pytest.raises(PricingError, match="not later than the one it replaces"):
        PriceCatalog.load_file(price_file(tmp_path), base=both)
    with pytest.raises(PricingError, match="YYYY-MM-DD"):
        PriceCatalog.load_file(price_file(tmp_path, effective_from="Dec 1"))


class ListSink:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def write(self, records: list[RequestRecord]) -> None:
        self.records.extend(records)

    def close(self) -> None:
        return None


@pytest.mark.parametrize("when", [BEFORE, AFTER])
async def test_records_are_billed_at_the_price_of_their_own_day(tmp_path: Path, when: float) -> None:
    catalog = PriceCatalog.load_file(price_file(tmp_path))

    def answer(request: ChatRequest) -> ChatResponse:
        return ChatResponse(id="a", model="gpt-4o", content="ok", usage=USAGE, provider="openai")

    sink = ListSink()
    metered = Metered(FunctionModel(answer), [sink], catalog=catalog, clock=lambda: when)
    await metered.complete(ChatRequest.of("hi", model="gpt-4o"))
    await metered.aclose()
    (record,) = sink.records
    expected = catalog.get("gpt-4o", at=when)
    assert record.cost_usd == pytest.approx(expected.input + expected.output)
    assert (record.cost_usd == pytest.approx(3.0)) == (when == AFTER)
