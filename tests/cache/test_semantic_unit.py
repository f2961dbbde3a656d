"""Semantic cache logic without a model: the index, the guards on our adversarial set, contexts, calibration."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest

np = pytest.importorskip("numpy", reason="the semantic cache needs numpy: pip install 'inferopt[semantic]'")

from inferopt.cache import Cached, MemoryBackend  # noqa: E402
from inferopt.cache.semantic import HashingEmbedder, SemanticCache, VectorIndex, calibrate_pairs, guard_reason  # noqa: E402
from inferopt.cache.semantic.boosting import Trees, fit_trees  # noqa: E402
from inferopt.cache.semantic.calibrate import Calibration, operating_point, threshold_for  # noqa: E402
from inferopt.errors import ConfigError  # noqa: E402
from inferopt.testing import FunctionModel  # noqa: E402
from inferopt.types import ChatRequest, Message  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


def rows(name: str) -> list[dict[str, str]]:
    with open(FIXTURES / name, newline="") as handle:
        return list(csv.DictReader(handle))


def test_index_loads_rows_in_bulk_and_returns_stored_vectors() -> None:
    vectors = np.eye(8, dtype=np.float32)
    index = VectorIndex(8, initial_capacity=2)
    index.add_many(vectors[:5], [10, 11, 12, 13, 14])
    index.add(vectors[5], 15)
    assert len(index) == 6 and np.array_equal(index.vector(13), vectors[3])
    assert index.search(vectors[5], k=1) == [(15, 1.0)]
    index.remove(15)
    live = [i for i, _ in index.search(vectors[5], k=6)]
    assert sorted(live) == [10, 11, 12, 13, 14]
    with pytest.raises(ValueError, match="dimension 8"):
        index.add_many(np.zeros((2, 4), dtype=np.float32), [1, 2])


def test_a_large_index_is_clustered_and_finds_near_rows_with_exact_cosines() -> None:
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(8, 32))
    vectors = (rng.normal(size=(3000, 8)) @ basis + 0.05 * rng.normal(size=(3000, 32))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(32, cluster_from=1000, rows_per_list=50, probe=4)
    index.add_many(vectors[:1500], list(range(1500)))
    assert index.lists == 30  # clustered at 1,000 rows or more
    for i in range(1500, 3000):  # rows added after the clustering go to their nearest list
        index.add(vectors[i], i)
    assert index.lists == 60  # clustered again when the index doubled
    scanned_all = 0
    for i in range(0, 3000, 7):
        near = vectors[i] + 0.02 * rng.normal(size=32).astype(np.float32)  # a near-duplicate question
        near /= np.linalg.norm(near)
        probed, exact = index.search(near, k=3), index.search(near, k=3, exact=True)
        assert probed[0][0] == exact[0][0] == i  # the row a cache would serve is always found
        assert probed[0][1] == pytest.approx(float(vectors[i] @ near), abs=1e-5)  # cosines are exact
        scanned_all += [item for item, _ in probed] == [item for item, _ in exact]
    assert scanned_all > 0.5 * len(range(0, 3000, 7))  # farther rows may be missed: 4 of 60 lists scanned
    index.remove(21)
    assert all(item != 21 for item, _ in index.search(vectors[21], k=3))
    assert np.array_equal(index.vector(22), vectors[22])


def test_boosted_trees_learn_an_interaction_a_linear_model_cannot_and_round_trip() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((2000, 3))
    y = ((x[:, 0] > 0.5) ^ (x[:, 1] > 0.5)).astype(int)  # XOR: no single weight per feature separates it
    trees = fit_trees(x[:1500], y[:1500], rounds=60)
    accuracy = np.mean((trees.predict(x[1500:]) > 0.5) == y[1500:])
    assert accuracy > 0.95
    again = Trees.from_json(json.loads(json.dumps(trees.to_json())))
    assert np.array_equal(again.predict(x[1500:]), trees.predict(x[1500:]))


def test_index_returns_the_nearest_rows_best_first_and_grows() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(16, initial_capacity=4)
    for i, v in enumerate(vectors):
        index.add(v, i)
    found = index.search(vectors[1234], k=3)
    assert found[0][0] == 1234 and found[0][1] == pytest.approx(1.0)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    index.remove(1234)
    assert all(i != 1234 for i, _ in index.search(vectors[1234], k=3)) and len(index) == 2999


@pytest.mark.parametrize("row", rows("semantic_adversarial.csv"), ids=lambda r: f"{r['kind']}:{r['question2'][:30]}")
def test_guards_veto_every_adversarial_pair(row: dict[str, str]) -> None:
    assert guard_reason(row["question1"], row["question2"]) is not None
    assert guard_reason(row["question2"], row["question1"]) is not None


@pytest.mark.parametrize("row", rows("semantic_paraphrases.csv"), ids=lambda r: r["question2"][:30])
def test_guards_let_paraphrases_through(row: dict[str, str]) -> None:
    assert guard_reason(row["question1"], row["question2"]) is None


def ask(text: str, history: list[Message] | None = None) -> ChatRequest:
    return ChatRequest(model="gpt-4o-mini", messages=[*(history or []), Message("user", text)], temperature=0)


async def test_semantic_hit_within_a_context_and_never_across_contexts() -> None:
    upstream = FunctionModel(lambda r: f"answer to {r.last_user_text}")
    semantic = SemanticCache(HashingEmbedder(), threshold=0.8, embed_in_thread=False)
    cached = Cached(upstream, MemoryBackend(), semantic=semantic)
    await cached.complete(ask("What is the capital of France?"))
    similar = await cached.complete(ask("what is the capital of France"))
    assert similar.cache == "semantic_hit"
    assert similar.content == "answer to What is the capital of France?"
    history = [Message("user", "Tell me about Spain."), Message("assistant", "Spain is in Europe.")]
    follow_up = await cached.complete(ask("What is the capital of France?", history))
    assert follow_up.cache == "miss"  # same words, other conversation: no hit
    guarded = await cached.complete(ask("What is the capital of Spain?"))
    assert guarded.cache == "miss"
    assert cached.local_stats()["default"].semantic_hits == 1
    assert len(upstream.calls) == 3


async def test_per_namespace_threshold_and_namespace_isolation() -> None:
    semantic = SemanticCache(HashingEmbedder(), threshold=0.8, thresholds={"strict": 0.999}, embed_in_thread=False)
    cached = Cached(FunctionModel(lambda r: "x"), MemoryBackend(), semantic=semantic)
    for namespace in ("default", "strict"):
        await cached.complete(replace(ask("What is the capital of France?"), options={"namespace": namespace}))
    loose = await cached.complete(ask("what is the capital of France"))
    strict = await cached.complete(replace(ask("what is the capital of France"), options={"namespace": "strict"}))
    other = await cached.complete(replace(ask("what is the capital of France"), options={"namespace": "other"}))
    assert [loose.cache, strict.cache, other.cache] == [
        "semantic_hit",
        "miss",
        "miss",
    ]


def test_threshold_for_a_target_precision_and_its_operating_point() -> None:
    scores = np.linspace(1.0, 0.0, 100)
    labels = np.array([1] * 40 + [1, 0] * 10 + [0] * 40)
    threshold = threshold_for(scores, labels, 0.95)
    point = operating_point(scores, labels, threshold)
    assert point.precision >= 0.95 and point.recall == pytest.approx(43 / 50)  # 40 positives, then 1,0,1,0,1: 43 of 45
    assert threshold_for(scores, np.zeros(100, dtype=int), 0.5) == float("inf")


def test_tied_scores_are_cut_together_so_the_landed_precision_is_the_one_chosen() -> None:
    # 30 distinct duplicates on top, then 40 pairs tied at 0.5 of which only 10 are duplicates: the
    # 30th-plus-a-few position clears 0.9 on its own, but a cut at 0.5 accepts all 40 tied pairs
    scores = np.array([1.0 - i / 100 for i in range(30)] + [0.5] * 40)
    labels = np.array([1] * 30 + [1] * 10 + [0] * 30)
    threshold = threshold_for(scores, labels, 0.9)
    assert threshold > 0.5
    assert operating_point(scores, labels, threshold).precision >= 0.9


def test_a_margin_of_standard_errors_keeps_the_threshold_where_precision_is_well_clear_of_the_target() -> None:
    scores = np.linspace(1.0, 0.0, 400)
    labels = np.array([1] * 20 + [1, 1, 1, 1, 1, 1, 1, 1, 1, 0] * 20 + [1, 0] * 40 + [0] * 100)
    plain = operating_point(scores, labels, threshold_for(scores, labels, 0.9))
    careful = operating_point(scores, labels, threshold_for(scores, labels, 0.9, standard_errors=1.0))
    assert plain.precision >= 0.9 and careful.precision >= 0.9
    assert careful.accepted < plain.accepted  # the margin gives up recall ...
    # ... to stay one binomial standard error above the target
    assert careful.precision - (careful.precision * (1 - careful.precision) / careful.accepted) ** 0.5 >= 0.9


def synthetic_pairs(n: int, seed: int) -> list[tuple[str, str, int]]:
    """Duplicates change one word of six; non-duplicates share nothing (random letter words: no guard fires)."""
    rng = np.random.default_rng(seed)
    words = ["".join(chr(97 + c) for c in rng.integers(0, 26, size=5)) for _ in range(60)]
    pairs = []
    for _ in range(n):
        base = list(rng.choice(words, size=6))
        same = bool(rng.integers(0, 2))
        other = [*base[:5], str(rng.choice(words))] if same else list(rng.choice(words, size=6))
        pairs.append((" ".join(base), " ".join(other), int(same)))
    return pairs


def test_calibration_is_cross_fitted_on_held_out_folds_and_round_trips(tmp_path: Path) -> None:
    pairs = synthetic_pairs(400, seed=1)
    report = calibrate_pairs(pairs, HashingEmbedder(64), target_precision=0.9, folds=3, inner_folds=2, seeds=[0, 1])
    assert [(f.seed, f.fold) for f in report.folds] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    # every pair is held out exactly once per seed: the folds' accepted counts add up to the pooled one
    for seed in (0, 1):
        folds = [f.results["verifier+guards"] for f in report.folds if f.seed == seed]
        assert sum(p.accepted for p in folds) == report.pooled[(seed, "verifier+guards")].accepted
    ours = report.pooled[(0, "verifier+guards")]
    assert ours.precision >= 0.85 and ours.recall > 0.5
    # the held-out curve's read-off reaches the target on the pairs it reads, per seed and method
    assert set(report.curve) == {(seed, name) for seed in (0, 1) for name in report.methods}
    for point in report.curve.values():
        assert point.accepted == 0 or point.precision >= 0.9
    path = tmp_path / "calibration.json"
    report.calibration.save(path)
    loaded = Calibration.load(path)
    assert loaded.threshold == report.calibration.threshold and loaded.verifier is not None
    a, b, _ = pairs[0]
    vectors = HashingEmbedder(64).embed([a, b])
    assert loaded.verifier.score(a, b, vectors[0], vectors[1]) == pytest.approx(
        report.calibration.verifier.score(a, b, vectors[0], vectors[1])  # type: ignore[union-attr]
    )
    assert "held-out pairs only" in report.summary()


def test_an_old_calibration_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(
        '{"embedder": "hashing-64", "threshold": 0.8, "target_precision": 0.9, '
        '"verifier": {"weights": [1.0], "bias": 0.0}}'
    )
    with pytest.raises(ConfigError, match="calibrate"):
        Calibration.load(path)
