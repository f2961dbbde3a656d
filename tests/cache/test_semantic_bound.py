"""The false-hit bound: the rule on synthetic scores (does it keep its confidence?), feedback, stats."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

np = pytest.importorskip("numpy", reason="the semantic cache needs numpy: pip install 'inferopt[semantic]'")

from click.testing import CliRunner  # noqa: E402

from inferopt.cache import Cached, MemoryBackend  # noqa: E402
from inferopt.cache.semantic import HashingEmbedder, SemanticCache, semantic_from_options  # noqa: E402
from inferopt.cache.semantic.bound import (  # noqa: E402
    FalseHitBound,
    choose_threshold,
    clopper_pearson_upper,
    smallest_certifiable,
)
from inferopt.cache.semantic.calibrate import Calibration  # noqa: E402
from inferopt.cache.semantic.calibrate_bound import bound_table, held_out_bound  # noqa: E402
from inferopt.cache.semantic.pairs import PairSet  # noqa: E402
from inferopt.cli.main import cli  # noqa: E402
from inferopt.errors import ConfigError  # noqa: E402
from inferopt.testing import FunctionModel  # noqa: E402
from inferopt.types import ChatRequest, Message  # noqa: E402


def draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores uniform on [0, 1], wrong with probability 0.9 (1 - s)^2: the true false-hit rate at
    threshold t is 0.3 (1 - t)^2."""
    scores = rng.random(n)
    wrong = rng.random(n) < 0.9 * (1 - scores) ** 2
    return scores, (~wrong).astype(int)


def true_rate(threshold: float) -> float:
    return 0.3 * (1 - threshold) ** 2 if np.isfinite(threshold) else 0.0


def test_clopper_pearson_matches_known_values() -> None:
    assert clopper_pearson_upper(0, 300, 0.05) == pytest.approx(1 - 0.05 ** (1 / 300))
    assert clopper_pearson_upper(5, 1000, 0.05) == pytest.approx(0.010484, abs=2e-6)  # Beta(6, 995) 95% quantile
    assert clopper_pearson_upper(84, 2000, 0.05) == pytest.approx(0.050144, abs=2e-6)
    assert clopper_pearson_upper(0, 0, 0.05) == 1.0
    bounds = [clopper_pearson_upper(k, 500, 0.05) for k in range(10)]
    assert bounds == sorted(bounds) and all(b > k / 500 for k, b in enumerate(bounds))
    assert smallest_certifiable(0.01, 0.05) == 299


@pytest.mark.parametrize("max_rate", [0.02, 0.05, 0.1])
def test_the_realised_rate_stays_under_the_bound_at_the_stated_confidence(max_rate: float) -> None:
    rng = np.random.default_rng(7)
    choices = [choose_threshold(*draw(rng, 4000), max_rate, confidence=0.9) for _ in range(100)]
    over = sum(true_rate(c.threshold) > max_rate for c in choices)
    assert over <= 0.1 * len(choices)
    served = [c for c in choices if np.isfinite(c.threshold)]
    assert len(served) >= 0.5 * len(choices)  # and it does serve: the rule is not "never"
    assert all(c.upper <= max_rate and c.accepted >= smallest_certifiable(max_rate, 0.1 / c.tests) for c in served)


def test_when_every_threshold_is_too_wrong_it_almost_never_serves() -> None:
    """Wrong at 6% everywhere, bound 5%: any threshold breaks it, so serving is a failure of the rule."""
    rng = np.random.default_rng(3)
    failures = 0
    for _ in range(200):
        scores = rng.random(3000)
        labels = (rng.random(3000) >= 0.06).astype(int)
        failures += np.isfinite(choose_threshold(scores, labels, 0.05, confidence=0.95).threshold)
    assert failures <= 0.05 * 200


def test_too_few_pairs_means_never_serve() -> None:
    choice = choose_threshold(np.linspace(0, 1, 100), np.ones(100, dtype=int), 0.01)
    assert choice.threshold == float("inf") and choice.accepted == 0 and choice.upper == 1.0
    with pytest.raises(ConfigError, match="max_false_hit_rate"):
        choose_threshold(np.zeros(3), np.zeros(3, dtype=int), 1.5)


def test_wrong_hits_tighten_the_rule_and_right_ones_never_loosen_it() -> None:
    scores, labels = draw(np.random.default_rng(0), 5000)
    bound = FalseHitBound(scores, labels, 0.05)
    start = bound.threshold
    for _ in range(50):
        bound.record(0.99, True)  # praise at the top cannot buy a looser threshold
    assert bound.threshold >= start
    for _ in range(40):
        bound.record(start + 0.01, False)
    assert bound.threshold > start + 0.01
    assert bound.reported_wrong == 40 and bound.calibrated.threshold == start


def ask(text: str, system: str = "be brief") -> ChatRequest:
    return ChatRequest(model="gpt-4o-mini", messages=[Message("system", system), Message("user", text)], temperature=0)


def cosine_calibration() -> Calibration:
    """Labelled pairs scored by cosine (no verifier): right from 0.5 up, wrong below."""
    scores = np.linspace(0.0, 1.0, 4001)
    return Calibration("hashing-512", 0.5, None, 0.9, {}, None, scores.tolist(), (scores >= 0.5).astype(int).tolist())


def test_feedback_changes_the_rule_of_the_cache_and_is_kept_in_the_index(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    index = tmp_path / "semantic.db"
    cache = SemanticCache(
        embedder, calibration=cosine_calibration(), max_false_hit_rate=0.05, embed_in_thread=False, index_path=index
    )
    first = cache.threshold_for("default")
    assert 0.45 < first < 0.6

    async def serve_and_report(system: str) -> float | None:
        await cache.remember(ask("how do i reset my password", system), "default", f"k-{system}")
        found = await cache.match(ask("how can i reset my password", system), "default")
        if found is None:
            return None
        assert cache.report_wrong_hit(ask("how can i reset my password", system), "default")
        assert await cache.match(ask("how can i reset my password", system), "default") is None  # never again
        return found.score

    score = asyncio.run(serve_and_report("context 0"))
    assert score is not None and score > first
    assert not cache.report_wrong_hit(ask("how can i reset my password", "context 0"), "default")  # one verdict
    reports = 1
    while reports < 300 and asyncio.run(serve_and_report(f"context {reports}")) is not None:
        reports += 1
    # The first wrong hits are diluted by the right pairs below them; enough of them and no
    # threshold at or below their score passes any more.
    assert 30 < reports < 300 and cache.threshold_for("default") > score
    cache.close()
    reopened = SemanticCache(
        embedder, calibration=cosine_calibration(), max_false_hit_rate=0.05, embed_in_thread=False, index_path=index
    )
    assert reopened.threshold_for("default") == cache.threshold_for("default")
    assert reopened.bound is not None and reopened.bound.reported_wrong == reports
    reopened.close()


def test_cached_counts_feedback_in_its_stats() -> None:
    semantic = SemanticCache(
        HashingEmbedder(), calibration=cosine_calibration(), max_false_hit_rate=0.05, embed_in_thread=False
    )
    cached = Cached(FunctionModel(lambda r: "answer"), MemoryBackend(), semantic=semantic)

    async def run() -> None:
        await cached.complete(ask("how do i reset my password"))
        response = await cached.complete(ask("how can i reset my password"))
        assert response.cache == "semantic_hit"
        assert cached.report_wrong_hit(ask("how can i reset my password"))
        assert not cached.report_wrong_hit(ask("a question never served"))
        again = await cached.complete(ask("how can i reset my password"))
        assert again.cache == "miss"

    asyncio.run(run())
    stats = cached.local_stats()["default"]
    assert stats.semantic_checked == 1 and stats.semantic_wrong == 1


def test_the_bound_needs_scored_pairs() -> None:
    with pytest.raises(ConfigError, match="needs a calibration with scored pairs"):
        semantic_from_options({"embedder": "hashing", "max_false_hit_rate": 0.05})
    with pytest.raises(ConfigError, match="not both"):
        SemanticCache(HashingEmbedder(), calibration=cosine_calibration(), max_false_hit_rate=0.05, threshold=0.9)


def test_calibration_round_trips_its_scored_pairs(tmp_path: Path) -> None:
    path = tmp_path / "cal.json"
    cosine_calibration().save(path)
    loaded = Calibration.load(path)
    assert loaded.bound_scores is not None and len(loaded.bound_scores) == 4001
    assert semantic_from_options({"embedder": "hashing", "calibration": str(path), "max_false_hit_rate": 0.02}).bound


def test_cli_stats_shows_the_estimated_rate_its_bound_and_recall(tmp_path: Path) -> None:
    path = tmp_path / "cal.json"
    cosine_calibration().save(path)
    index = tmp_path / "semantic.db"
    cache = SemanticCache(
        HashingEmbedder(), calibration=Calibration.load(path), max_false_hit_rate=0.05, index_path=index
    )

    async def serve_and_report() -> None:
        await cache.remember(ask("how do i reset my password"), "default", "k")
        assert await cache.match(ask("how can i reset my password"), "default") is not None
        cache.report_wrong_hit(ask("how can i reset my password"), "default")

    asyncio.run(serve_and_report())
    cache.close()
    shown = CliRunner().invoke(
        cli,
        ["cache", "stats", "--cache", "memory://", "--semantic-calibration", str(path), "--semantic-index", str(index)],
    )
    assert shown.exit_code == 0, shown.output
    assert "upper bound" in shown.output and "recall" in shown.output
    assert "labelled pairs" in shown.output and "1 checked, 1 wrong" in shown.output


def test_held_out_bound_pools_the_folds() -> None:
    rng = np.random.default_rng(1)
    scores, labels = draw(rng, 3000)
    pairs = [(f"a{i}", f"b{i}", int(y)) for i, y in enumerate(labels)]
    data = PairSet(pairs, scores, np.zeros(len(pairs), dtype=bool), labels)

    def oracle(data: PairSet, train: np.ndarray, test: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        return scores[train], scores[test]  # the scores themselves: no fitting

    results = held_out_bound(data, oracle, [0.05, 0.1], seeds=[0, 1])
    assert [(r.seed, r.max_rate) for r in results] == [(0, 0.05), (0, 0.1), (1, 0.05), (1, 0.1)]
    for r in results:
        assert len(r.thresholds) == 5 and r.accepted > 0 and r.realised <= r.max_rate
    assert results[1].recall > results[0].recall
    assert "| 0.05 | 0.95 | 0 |" in bound_table(results)
    assert all(r.curve_recall >= r.recall for r in results)
