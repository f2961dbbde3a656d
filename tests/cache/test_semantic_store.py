"""The semantic index survives a restart (SQLite file) and is shared by processes using the same file."""

from __future__ import annotations

from pathlib import Path

import pytest

np = pytest.importorskip("numpy", reason="the semantic cache needs numpy: pip install 'inferopt[semantic]'")

from inferopt.cache import Cached, SQLiteBackend  # noqa: E402
from inferopt.cache.semantic import HashingEmbedder, SemanticCache, semantic_from_options  # noqa: E402
from inferopt.errors import ConfigError  # noqa: E402
from inferopt.testing import FunctionModel  # noqa: E402
from inferopt.types import ChatRequest, Message  # noqa: E402


def ask(text: str, history: list[Message] | None = None) -> ChatRequest:
    return ChatRequest(model="gpt-4o-mini", messages=[*(history or []), Message("user", text)], temperature=0)


def semantic(path: Path) -> SemanticCache:
    return SemanticCache(HashingEmbedder(), threshold=0.8, embed_in_thread=False, index_path=path)


async def test_a_restarted_process_keeps_its_semantic_entries(tmp_path: Path) -> None:
    index = tmp_path / "semantic.db"
    upstream = FunctionModel(lambda r: f"answer to {r.last_user_text}")
    first = Cached(upstream, SQLiteBackend(tmp_path / "cache.db"), semantic=semantic(index))
    await first.complete(ask("What is the capital of France?"))
    history = [Message("user", "Tell me about Spain."), Message("assistant", "Spain is in Europe.")]
    await first.complete(ask("And its capital?", history))
    await first.aclose()

    restarted = semantic(index)
    assert len(restarted) == 2
    second = Cached(upstream, SQLiteBackend(tmp_path / "cache.db"), semantic=restarted)
    hit = await second.complete(ask("what is the capital of France"))
    assert hit.cache == "semantic_hit" and hit.content == "answer to What is the capital of France?"
    in_context = await second.complete(ask("and its capital", history))
    assert in_context.cache == "semantic_hit"
    out_of_context = await second.complete(ask("and its capital"))  # the follow-up alone: another context
    assert out_of_context.cache == "miss"
    assert len(upstream.calls) == 3
    await second.aclose()
    restarted.close()


async def test_two_caches_on_one_index_file_see_each_others_entries(tmp_path: Path) -> None:
    a, b = semantic(tmp_path / "semantic.db"), semantic(tmp_path / "semantic.db")
    await a.remember(ask("How do I reset my router?"), "default", "key-1")
    found = await b.match(ask("how do i reset my router"), "default")
    assert found is not None and found.key == "key-1"
    await b.remember(ask("How do I reset my router?"), "default", "key-1")  # the same entry is not stored twice
    assert len(a) == len(b) == 1
    a.close()
    b.close()


def test_an_index_file_made_by_another_embedder_is_refused(tmp_path: Path) -> None:
    semantic(tmp_path / "semantic.db").close()
    with pytest.raises(ConfigError, match=r"hashing-512.*hashing-64"):
        SemanticCache(HashingEmbedder(64), index_path=tmp_path / "semantic.db")


async def test_the_config_option_index_makes_the_cache_persistent(tmp_path: Path) -> None:
    options = {"embedder": "hashing", "threshold": 0.8, "index": str(tmp_path / "semantic.db")}
    first = semantic_from_options(options)
    await first.remember(ask("How do I reset my router?"), "default", "key-1")
    first.close()
    again = semantic_from_options(options)
    found = await again.match(ask("how do i reset my router"), "default")
    assert found is not None and found.key == "key-1"
    again.close()
