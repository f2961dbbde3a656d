"""Splitting items over a provider's request and byte limits."""

from __future__ import annotations

import pytest

from inferopt.errors import InferoptError
from inferopt.parallel.batch_api import BatchLimits
from inferopt.parallel.batch_api.split import split_encoded


def encoded(*sizes: int) -> list[tuple[str, bytes]]:
    return [(f"c{i}", b"x" * size) for i, size in enumerate(sizes)]


def test_groups_respect_the_request_limit_in_order() -> None:
    groups = split_encoded(encoded(*[10] * 7), BatchLimits(max_requests=3, max_bytes=10_000))
    assert groups == [[0, 1, 2], [3, 4, 5], [6]]


def test_groups_respect_the_byte_limit_counting_separators_and_overhead() -> None:
    # room = 100 - 10 = 90; each item costs 29 + 1 = 30 bytes, so three per group
    groups = split_encoded(encoded(*[29] * 7), BatchLimits(max_requests=100, max_bytes=100, overhead_bytes=10))
    assert groups == [[0, 1, 2], [3, 4, 5], [6]]
    groups = split_encoded(encoded(*[30] * 4), BatchLimits(max_requests=100, max_bytes=100, overhead_bytes=10))
    assert groups == [[0, 1], [2, 3]]


def test_an_item_over_the_byte_limit_alone_is_an_error_naming_it() -> None:
    with pytest.raises(InferoptError, match="'c1' alone is 201 bytes"):
        split_encoded(encoded(10, 200), BatchLimits(max_requests=10, max_bytes=150))


def test_limits_that_allow_nothing_are_refused() -> None:
    with pytest.raises(InferoptError, match="at least one request"):
        BatchLimits(max_requests=0, max_bytes=10)
