"""The kNN router: learns which prompts need the strong model, saves and loads without network."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferopt.errors import RouterFileError
from inferopt.routing.evaluate import evaluate, weak_and_strong
from inferopt.routing.learned import KnnRouter, knob_grid
from inferopt.routing.learned_model import LearnedRouter
from inferopt.routing.outcome_files import read_outcomes
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest

np = pytest.importorskip("numpy", reason="the learned router needs numpy: pip install 'inferopt[routing]'")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def split() -> tuple[object, object]:
    return read_outcomes(FIXTURES / "mini_routerbench.csv").split(0.5, seed=0)


def test_router_sends_hard_prompts_to_the_strong_model_and_easy_ones_to_the_cheap(split: tuple) -> None:
    train, test = split
    router = KnnRouter.fit(train, k=15, cost_weight=0.2)
    for prompt, group in zip(test.prompts, test.groups, strict=True):
        expected = "gpt-4o" if group == "arith" else "gpt-4o-mini"
        assert router.route(prompt) == expected, prompt


def test_knob_trades_cost_for_quality(split: tuple) -> None:
    train, test = split
    router = KnnRouter.fit(train, k=5)
    p, c = router.estimate_many(test.prompts)
    assert {router.models[i] for i in router.choose(p, c, 1e6)} == {"gpt-4o-mini"}
    grid = knob_grid(router, p, c)
    reports = {r.name: r for r in evaluate(test, {"knn": (lambda w: list(router.choose(p, c, w)), grid)})}
    knn = reports["knn"]
    strong = reports["gpt-4o"].points[0]
    best = knn.best_within(0.7 * strong.cost_per_query)
    assert best is not None and best.accuracy == pytest.approx(1.0)  # strong's quality for less than its cost
    assert knn.metrics["aiq"] > reports["random"].metrics["aiq"]


def test_saved_router_loads_and_routes_identically(split: tuple, tmp_path: Path) -> None:
    train, test = split
    router = KnnRouter.fit(train, k=5, cost_estimate="mean", cost_weight=0.3)
    path = tmp_path / "r.npz"
    router.save(path)
    loaded = KnnRouter.load(path)
    assert loaded.models == router.models and loaded.cost_estimate == "mean" and loaded.cost_weight == 0.3
    assert [loaded.route(p) for p in test.prompts] == [router.route(p) for p in test.prompts]
    p1, _ = router.estimate_many(test.prompts)
    p2, _ = loaded.estimate_many(test.prompts)
    assert np.allclose(p1, p2)
    assert loaded.fingerprints == router.fingerprints


def test_loading_something_else_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "r.npz"
    path.write_bytes(b"not a router")
    with pytest.raises(RouterFileError, match="inferopt route train"):
        KnnRouter.load(path)


async def test_live_learned_router_annotates_route_and_charges_the_call(split: tuple) -> None:
    train, test = split
    knn = KnnRouter.fit(train, k=15, cost_weight=0.2)

    def answer(name: str) -> FunctionModel:
        return FunctionModel(lambda r: f"answer from {r.model}", name=name)

    targets = {"small": answer("small"), "medium": answer("medium"), "large": answer("large")}
    names = {"gpt-4o-mini": "small", "claude-haiku-4-5": "medium", "gpt-4o": "large"}
    router = LearnedRouter(knn, targets, names=names)
    hard = next(p for p, g in zip(test.prompts, test.groups, strict=True) if g == "arith")
    response = await router.complete(ChatRequest.of(hard, model="router/knn"))
    assert response.content == "answer from large"
    assert response.route["chosen"] == "large"
    assert len(targets["large"].calls) == 1 and not targets["small"].calls
    _, strong = weak_and_strong(train)
    assert train.models[strong] == "gpt-4o"


async def test_answer_scorer_learns_which_answers_to_trust_and_round_trips(tmp_path: Path) -> None:
    from inferopt.routing.data import read_routerbench
    from inferopt.routing.scorer import AnswerScorer, LearnedScorer
    from inferopt.types import ChatResponse, Usage

    data = read_routerbench([FIXTURES / "mini_routerbench.csv"], with_answers=True)
    train, test = data.split(0.5, seed=0)
    scorer = AnswerScorer.fit(train, ["gpt-4o-mini"], epochs=200)
    cheap = test.models.index("gpt-4o-mini")
    right = [
        scorer.score(p, a[cheap], "gpt-4o-mini")
        for p, a, c in zip(test.prompts, test.answers, test.correct, strict=True)
        if c[cheap]
    ]
    wrong = [
        scorer.score(p, a[cheap], "gpt-4o-mini")
        for p, a, c in zip(test.prompts, test.answers, test.correct, strict=True)
        if not c[cheap]
    ]
    assert min(right[:10]) > max(wrong)  # capitals (always right) outscore wrong products
    path = tmp_path / "scorer.npz"
    scorer.save(path)
    loaded = AnswerScorer.load(path)
    assert loaded.score(test.prompts[0], "Paris", "gpt-4o-mini") == pytest.approx(
        scorer.score(test.prompts[0], "Paris", "gpt-4o-mini")
    )
    check = LearnedScorer(loaded)
    request = ChatRequest.of(test.prompts[-1], model="gpt-4o-mini")
    result = await check(request, ChatResponse("i", "gpt-4o-mini", test.answers[-1][cheap], Usage()), None)  # type: ignore[arg-type]
    assert 0.0 <= result.score <= 1.0 and not result.calls


def test_dense_index_and_postings_give_the_same_neighbours(split: tuple) -> None:
    from inferopt.routing.knn_index import SimilarityIndex

    train, test = split
    router = KnnRouter.fit(train, k=5)
    assert router.index.dense  # small training sets are scored from the dense matrix
    postings_only = SimilarityIndex(router.index.postings, len(train), dense_limit=0)
    assert not postings_only.dense
    from inferopt.routing.features import hashed_features, weighted_unit

    for prompt in test.prompts:
        query = weighted_unit(hashed_features(prompt), router._idf)
        assert np.allclose(router.index.similarity(query), postings_only.similarity(query), atol=1e-6)
    own = router.index.similarity(weighted_unit(hashed_features(train.prompts[3]), router._idf))
    assert int(np.argmax(own)) == 3  # a training prompt's nearest neighbour is itself
