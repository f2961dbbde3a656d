"""A live cascade over HTTP (the emulator replaying recorded answers) matches its offline replay.

The emulator serves the fixture's recorded answers of each model over real loopback HTTP; the
cascade in AsyncClient decides from those answers. The offline replay decides from the same
recorded answers without any call. Both must take the same path on every row: same accepted model,
same number of calls per model (hence the same bill at any price list), same accuracy.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from inferopt import AsyncClient
from inferopt.config import parse_config
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.routing.data import Outcomes, read_routerbench
from inferopt.routing.evaluate import AgreementStage, OperatingPoint, replay_agreement_cascade

FIXTURE = Path(__file__).parent / "fixtures" / "mini_routerbench.csv"
CHEAP, PEER, STRONG = "gpt-4o-mini", "claude-haiku-4-5", "gpt-4o"


async def test_live_cascade_over_http_matches_the_offline_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_KEY", "emulator-key")  # the emulator wants a key, like a real provider
    data = read_routerbench([FIXTURE], with_answers=True)
    rows = data.subset(list(range(0, len(data), 4)))  # a few rows of each kind, both kinds present
    assert set(rows.groups) == {"capitals", "arith"}
    offline, offline_chosen = replay_agreement_cascade(
        rows, [AgreementStage(CHEAP, (PEER,), 1.0), AgreementStage(STRONG)]
    )
    emulator = EmulatorConfig(replay_paths=[FIXTURE], overrides=ProfileOverrides(fixed_latency_s=0.0, jitter=0.0))
    cascade = {
        "kind": "cascade",
        "stages": [{"model": CHEAP, "check": {"agreement": [PEER]}, "threshold": 1.0}, {"model": STRONG}],
    }
    with EmulatorServer(emulator) as server:
        await _compare(server, cascade, rows, offline, offline_chosen)


async def _compare(
    server: EmulatorServer,
    router: dict[str, Any],
    rows: Outcomes,
    offline: OperatingPoint,
    offline_chosen: list[str],
) -> None:
    """Run ``router`` live over the emulator on ``rows``; it must decide and call as the offline replay did."""
    config = parse_config(
        {
            "providers": {
                "oa": {"kind": "openai", "base_url": server.openai_base_url, "api_key_env": "EMULATOR_KEY"},
                "an": {"kind": "anthropic", "base_url": server.anthropic_base_url, "api_key_env": "EMULATOR_KEY"},
            },
            "models": {
                CHEAP: {"provider": "oa", "model": CHEAP},
                STRONG: {"provider": "oa", "model": STRONG},
                PEER: {"provider": "an", "model": PEER},
            },
            "routers": {"under-test": router},
        }
    )
    live_chosen: list[str] = []
    live_calls: Counter[str] = Counter()
    live_cost = 0.0
    async with AsyncClient(config) as client:
        for prompt in rows.prompts:
            response = await client.complete(prompt, model="router/under-test")
            assert response.emulated
            route = response.route
            live_chosen.append(route["chosen"])
            live_calls.update(a["model"] for a in route["attempts"])
            live_cost += response.cost_usd or 0.0
            assert response.cost_usd == pytest.approx(sum(a["cost_usd"] for a in route["attempts"]))
    assert live_chosen == offline_chosen
    assert STRONG in live_chosen and set(live_chosen) - {STRONG}  # both paths were exercised
    n = len(rows)
    assert {m: live_calls[m] / n for m in rows.models} == pytest.approx(offline.call_share)
    column = {m: j for j, m in enumerate(rows.models)}
    live_accuracy = sum(rows.correct[i][column[m]] for i, m in enumerate(live_chosen)) / n
    assert live_accuracy == pytest.approx(offline.accuracy)
    assert live_cost > 0


async def test_live_answer_cascade_over_http_matches_its_offline_replay(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The learned answer cascade, trained and saved, then run live from config: same decisions and bill."""
    pytest.importorskip("numpy", reason="the answer cascade needs numpy: pip install 'inferopt[routing]'")
    from inferopt.routing.answer_cascade import PatternCascade, escalate_at_for_budget, replay_pattern_cascade
    from inferopt.routing.answer_cascade_file import save_pattern_cascade

    monkeypatch.setenv("EMULATOR_KEY", "emulator-key")
    data = read_routerbench([FIXTURE], with_answers=True)
    train, test = data.split(0.5, seed=0)
    cascade = PatternCascade.fit(train, [CHEAP, PEER], STRONG)
    knob = escalate_at_for_budget(train, cascade, 0.8)
    save_pattern_cascade(cascade, tmp_path / "cascade.npz", knob)
    rows = test.subset(list(range(0, len(test), 2)))
    offline = next(p for p in replay_pattern_cascade(rows, cascade).points if p.knob == knob)
    cols = [rows.models.index(m) for m in (CHEAP, PEER)]
    offline_chosen = []
    for prompt, answers in zip(rows.prompts, rows.answers, strict=True):
        accept = cascade.decide(prompt, [answers[j] for j in cols], knob)
        offline_chosen.append(STRONG if accept is None else (CHEAP, PEER)[accept])
    emulator = EmulatorConfig(replay_paths=[FIXTURE], overrides=ProfileOverrides(fixed_latency_s=0.0, jitter=0.0))
    with EmulatorServer(emulator) as server:
        router = {"kind": "answer-cascade", "path": str(tmp_path / "cascade.npz")}
        await _compare(server, router, rows, offline, offline_chosen)
