"""The lookup's first stage: candidates whose cosine alone rules them out skip the verifier's features.

It must never change an answer: the trees' bound given the cosine is an upper bound on their score,
so every candidate it skips would have been rejected anyway."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy", reason="the semantic cache needs numpy: pip install 'inferopt[semantic]'")

from inferopt.cache.semantic import HashingEmbedder, SemanticCache  # noqa: E402
from inferopt.cache.semantic.boosting import fit_trees  # noqa: E402
from inferopt.cache.semantic.calibrate import Calibration  # noqa: E402
from inferopt.cache.semantic.features import FEATURE_NAMES  # noqa: E402
from inferopt.cache.semantic.verifier import PairVerifier  # noqa: E402
from inferopt.types import ChatRequest, Message  # noqa: E402


def fitted_trees(seed: int = 0) -> tuple[object, object]:
    """Trees where the cosine (column 0) and an interaction of other features decide the label."""
    rng = np.random.default_rng(seed)
    x = rng.random((2000, len(FEATURE_NAMES)))
    y = ((x[:, 0] > 0.6) & ((x[:, 1] > 0.3) | (x[:, 2] < 0.5))).astype(int)
    return fit_trees(x, y, rounds=40), x


def test_the_bound_given_the_cosine_is_never_below_a_real_score_and_is_reached() -> None:
    trees, x = fitted_trees()
    raw = trees.raw(x)  # type: ignore[attr-defined]
    bound = trees.most_given(0, x[:, 0])  # type: ignore[attr-defined]
    assert np.all(raw <= bound + 1e-12)
    gap = bound - raw
    assert np.min(gap) < 0.05  # tight for some rows: the other features can take their best values
    low, high = trees.most_given(0, np.array([0.1, 0.95]))  # type: ignore[attr-defined]
    assert low < high  # a low cosine caps the score well below a high one's


def ask(text: str, history: list[Message] | None = None) -> ChatRequest:
    return ChatRequest(model="gpt-4o-mini", messages=[*(history or []), Message("user", text)], temperature=0)


async def test_the_first_stage_skips_far_candidates_and_changes_no_answer() -> None:
    trees, _ = fitted_trees()
    verifier = PairVerifier(trees, {"word": 1.0}, "hashing-512")  # type: ignore[arg-type]
    embedder = HashingEmbedder()
    cache = SemanticCache(embedder, calibration=Calibration(embedder.name, 0.5, verifier), embed_in_thread=False)
    words = [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
        "mike",
    ]
    stored = [" ".join(words[i : i + 6]) + " setup" for i in range(8)]
    for i, text in enumerate(stored):
        await cache.remember(ask(text), "default", f"k{i}")
    asked = [*stored, "alpha bravo charlie delta echo foxtrot", "zulu yankee xray whiskey", "mike lima kilo juliet"]
    skipped = 0
    for text in asked:
        vector = embedder.embed([text])[0]
        bucket = next(iter(cache._buckets.values()))
        found = bucket.index.search(vector, cache.top_k)
        texts = [bucket.questions[i] for i, _ in found]
        vectors = np.stack([bucket.index.vector(i) for i, _ in found])
        full = verifier.score_candidates(text, vector, texts, vectors)
        staged = verifier.score_candidates(text, vector, texts, vectors, at_least=0.5)
        assert np.array_equal(staged[np.isfinite(staged)], full[np.isfinite(staged)])  # scored ones: unchanged
        assert np.all(full[~np.isfinite(staged)] < 0.5)  # skipped ones: would have been rejected
        skipped += int(np.sum(~np.isfinite(staged)))
    assert skipped > len(asked)  # most far candidates were skipped
    far = verifier.score_candidates(
        "zulu yankee xray whiskey",
        embedder.embed(["zulu yankee xray whiskey"])[0],
        stored[:3],
        embedder.embed(stored[:3]),
        at_least=0.5,
    )
    assert np.all(np.isinf(far))  # nothing near: no candidate's features computed
    assert (await cache.match(ask(stored[2]), "default")) is not None  # an exact repeat still hits


def test_what_a_caller_does_to_a_guard_answer_never_changes_the_next_lookup() -> None:
    # guards and pair features read each question's words once (memoised); the public helpers hand
    # out copies, so a caller mutating one cannot turn a "numbers differ" veto into a hit.
    from inferopt.cache.semantic import guards
    from inferopt.cache.semantic.features import pair_features

    question, candidate = "How many legs do 3 spiders have?", "How many legs do 4 spiders have?"
    assert guards.guard_reason(question, candidate) == "numbers differ"
    before = pair_features(question, candidate, 0.97, {"spider": 2.0}, 5.0)
    guards.numbers(question).update({"4": 1, "3": -1})
    guards.content_words(question).clear()
    guards.entities(candidate).add("spiders")
    assert guards.guard_reason(question, candidate) == "numbers differ"
    assert pair_features(question, candidate, 0.97, {"spider": 2.0}, 5.0) == before
    assert before[FEATURE_NAMES.index("same_numbers")] == 0.0
