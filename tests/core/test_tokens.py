import pytest

from inferopt import tokens
from inferopt.types import ChatRequest


def test_estimate_without_encoding_files(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # an empty folder: no files, never a download
    assert not tokens.exact_counts_available("gpt-4o")
    assert tokens.count_tokens("abcdefghi", "gpt-4o") == 3  # ceil(9 / 4)
    assert tokens.count_tokens("", "gpt-4o") == 0


def test_exact_counts_with_shared_files() -> None:
    if not tokens.exact_counts_available("gpt-4o"):
        pytest.skip("tiktoken files not present (set TIKTOKEN_CACHE_DIR to ../shared/tiktoken for exact counts)")
    assert tokens.count_tokens("hello world", "gpt-4o") == 2
    assert tokens.encoding_name_for("gpt-4") == "cl100k_base"
    assert tokens.encoding_name_for("gpt-4o-mini") == "o200k_base"
    assert tokens.encoding_name_for("openai/gpt-3.5-turbo") == "cl100k_base"


def test_request_tokens_include_framing_and_tools() -> None:
    plain = ChatRequest.of("hi", model="gpt-4o")
    with_tools = ChatRequest.of("hi", model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}])
    framing = tokens.REPLY_PRIMER_TOKENS + tokens.MESSAGE_OVERHEAD_TOKENS
    assert tokens.count_request_tokens(plain) == framing + tokens.count_tokens("hi")
    assert tokens.count_request_tokens(with_tools) > tokens.count_request_tokens(plain)
