"""A cascade checked by the learned answer scorer, replayed on RouterBench's recorded answers.

    python benchmarks/routing/answer_scorer.py [--cheap zero-one-ai/Yi-34B-Chat] [--seed 0]

Trains an AnswerScorer on the answers of three cheap models to the train half (seeded split), then
replays on the other half: accept the cheap model's recorded answer when its score reaches the
threshold, else pay for GPT-4 too. Prints accuracy and cost against GPT-4's for thresholds that
escalate 0%, 10%, ... 60% of the rows (quantiles of the scores: the ranking is what the scorer
learns; its calibration depends on the features).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inferopt.routing.data import read_routerbench
from inferopt.routing.scorer import AnswerScorer

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "routerbench"
STRONG = "gpt-4-1106-preview"
CHEAP = ("zero-one-ai/Yi-34B-Chat", "mistralai/mixtral-8x7b-chat", "gpt-3.5-turbo-1106")


def main(cheap: str, seed: int) -> None:
    if not DATA.is_dir():
        raise SystemExit(f"RouterBench data not found at {DATA} (it lives in ../shared/data)")
    data = read_routerbench([DATA], with_answers=True)
    train, test = data.split(0.5, seed=seed)
    scorer = AnswerScorer.fit(train, CHEAP, epochs=200)
    j, g = test.models.index(cheap), test.models.index(STRONG)
    scores = [scorer.score(test.prompts[i], test.answers[i][j], cheap) for i in range(len(test))]
    gpt4_cost, gpt4_acc = test.mean_cost(STRONG), test.mean_accuracy(STRONG)
    print(f"trained on {len(train)} prompts (seed {seed}), evaluated on {len(test)}; GPT-4 accuracy {gpt4_acc:.3f}")
    print(f"{'threshold':>9} {'accuracy':>9} {'cost vs GPT-4':>14}")  # escalate when score < threshold
    ordered = sorted(scores)
    for share in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6):
        threshold = ordered[min(len(ordered) - 1, int(share * len(ordered)))] if share else 0.0
        correct = cost = 0.0
        for i, score in enumerate(scores):
            cost += test.cost[i][j]
            if score >= threshold:
                correct += test.correct[i][j]
            else:
                correct += test.correct[i][g]
                cost += test.cost[i][g]
        print(f"{threshold:9.3f} {correct / len(test):9.3f} {cost / len(test) / gpt4_cost:14.1%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cheap", default=CHEAP[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.cheap, args.seed)
