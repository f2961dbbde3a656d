"""A false-hit bound: choose the acceptance threshold so wrong hits stay under a rate, with a confidence.

**False-hit rate** (FHR): the fraction of served semantic hits whose stored answer is wrong for the
question, i.e. 1 - precision of the hits. Given labelled (score, correct) pairs scored by a
verifier that was not fitted on them (out-of-fold scores), :func:`choose_threshold` returns the
lowest threshold (the most recall) whose FHR is certified <= ``max_rate`` at ``confidence``:

1. A grid of at most ``grid`` candidate thresholds is laid by rank, before any label is looked at:
   the scores that accept n_1 < n_2 < ... pairs, geometric from the smallest count that could pass
   at all (with no wrong pair) to every pair. Placing the grid by rank alone keeps the tests honest.
2. At each candidate, the accepted pairs' wrong count k out of n gives the one-sided
   Clopper-Pearson upper bound on the FHR at level (1 - confidence) / grid (Bonferroni: the grid
   is tested as a family, so the chance that *any* candidate whose true FHR exceeds the bound
   passes is at most 1 - confidence: a learn-then-test rule, with no monotonicity assumed).
3. The lowest passing candidate is the threshold; none passing means "never serve" (inf).

The guarantee holds for the population the labelled pairs are a sample of: if the questions the
cache sees differ (another domain, another candidate mix), label some of them, or report wrong
hits (:class:`FalseHitBound` takes feedback, which can only tighten the rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from inferopt.errors import ConfigError

Scores = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int_]
DEFAULT_CONFIDENCE = 0.95
DEFAULT_GRID = 16


def _log_binomial_cdf(log_choose: npt.NDArray[np.float64], n: int, p: float) -> float:
    """log P(Binomial(n, p) <= k) for k = len(log_choose) - 1, given log C(n, i) for i = 0..k."""
    i = np.arange(len(log_choose), dtype=np.float64)
    log_terms = log_choose + i * math.log(p) + (n - i) * math.log1p(-p)
    top = float(log_terms.max())
    return top + math.log(float(np.exp(log_terms - top).sum()))


def clopper_pearson_upper(wrong: int, n: int, level: float) -> float:
    """The one-sided upper confidence bound on a rate from ``wrong`` of ``n``: the p with
    P(Binomial(n, p) <= wrong) = ``level`` (e.g. 0.05 for 95% confidence). 1.0 when n is 0."""
    if n <= 0 or wrong >= n:
        return 1.0
    if wrong == 0:
        return float(1.0 - level ** (1.0 / n))  # closed form
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))])
    i = np.arange(wrong + 1)
    log_choose = log_factorial[n] - log_factorial[i] - log_factorial[n - i]
    target = math.log(level)
    lo, hi = wrong / n, 1.0
    for _ in range(50):  # the CDF falls as p rises: bisection to ~1e-15
        mid = (lo + hi) / 2
        if _log_binomial_cdf(log_choose, n, mid) > target:
            lo = mid
        else:
            hi = mid
    return hi


def smallest_certifiable(max_rate: float, level: float) -> int:
    """The fewest accepted pairs whose bound can be <= ``max_rate`` (all of them correct)."""
    return max(1, math.ceil(math.log(level) / math.log1p(-max_rate)))


@dataclass(frozen=True)
class BoundChoice:
    """The chosen threshold and what the labelled pairs say about it."""

    max_rate: float
    confidence: float
    threshold: float  # inf: no candidate passed, never serve
    accepted: int  # labelled pairs at or above the threshold
    wrong: int  # of them, wrong
    upper: float  # Clopper-Pearson bound on the FHR at the threshold (the family-corrected level)
    recall: float  # accepted correct / correct pairs
    pairs: int
    tests: int

    @property
    def estimate(self) -> float:
        """The point estimate of the FHR at the threshold (wrong / accepted; 0 when nothing is accepted)."""
        return self.wrong / self.accepted if self.accepted else 0.0

    def to_json(self) -> dict[str, float | int]:
        return {**vars(self), "estimate": self.estimate}


def grid_counts(n: int, max_rate: float, level: float, grid: int) -> list[int]:
    """The accepted counts where the candidates sit (rank only, no labels)."""
    first = smallest_certifiable(max_rate, level)
    if n < first:
        return []
    return sorted({round(float(c)) for c in np.geomspace(first, n, num=grid)})


def choose_threshold(
    scores: Scores,
    labels: Labels,
    max_rate: float,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    grid: int = DEFAULT_GRID,
) -> BoundChoice:
    """The lowest threshold whose FHR is certified <= ``max_rate`` at ``confidence`` (module docstring)."""
    if not 0.0 < max_rate < 1.0:
        raise ConfigError(f"max_false_hit_rate must be between 0 and 1 (exclusive), got {max_rate}")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"the bound's confidence must be between 0 and 1 (exclusive), got {confidence}")
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    order = np.argsort(-scores, kind="stable")
    ranked, correct = scores[order], labels[order] == 1
    positives = int(correct.sum())
    level = (1.0 - confidence) / grid
    best = BoundChoice(max_rate, confidence, math.inf, 0, 0, 1.0, 0.0, len(scores), grid)
    wrong_so_far = np.cumsum(~correct)
    for count in grid_counts(len(scores), max_rate, level, grid):
        threshold = float(ranked[count - 1])
        accepted = int(np.searchsorted(-ranked, -threshold, side="right"))  # ties at the cut are all accepted
        wrong = int(wrong_so_far[accepted - 1])
        upper = clopper_pearson_upper(wrong, accepted, level)
        if upper <= max_rate and threshold < best.threshold:
            recall = (accepted - wrong) / positives if positives else 0.0
            best = BoundChoice(max_rate, confidence, threshold, accepted, wrong, upper, recall, len(scores), grid)
    return best


@dataclass
class FalseHitBound:
    """The bound over labelled pairs plus feedback on served hits (who reports: a user, a check).

    ``choice`` is the stricter of the rule on the labelled pairs alone and the rule on the pairs
    together with the feedback: a served hit reported wrong adds a wrong pair at its score (so the
    bound rises and the threshold with it), one confirmed correct adds a correct pair. Feedback only
    ever comes from scores at or above the threshold in force, so it could make a looser threshold
    look better than it is; taking the stricter keeps it to tightening. Loosen by labelling more
    pairs and calibrating again."""

    scores: Scores
    labels: Labels
    max_rate: float
    confidence: float = DEFAULT_CONFIDENCE
    grid: int = DEFAULT_GRID
    feedback_scores: list[float] = field(default_factory=list)
    feedback_correct: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._calibrated = choose_threshold(
            self.scores, self.labels, self.max_rate, confidence=self.confidence, grid=self.grid
        )
        self._choice = self._calibrated

    @property
    def calibrated(self) -> BoundChoice:
        """The rule on the labelled pairs alone."""
        return self._calibrated

    @property
    def choice(self) -> BoundChoice:
        return self._choice

    @property
    def threshold(self) -> float:
        return self._choice.threshold

    def record(self, score: float, correct: bool) -> BoundChoice:
        """One served hit's verdict; returns the rule now in force."""
        self.feedback_scores.append(float(score))
        self.feedback_correct.append(bool(correct))
        scores = np.concatenate([self.scores, np.asarray(self.feedback_scores)])
        labels = np.concatenate([self.labels, np.asarray(self.feedback_correct, dtype=np.int_)])
        pooled = choose_threshold(scores, labels, self.max_rate, confidence=self.confidence, grid=self.grid)
        self._choice = pooled if pooled.threshold >= self._calibrated.threshold else self._calibrated
        return self._choice

    @property
    def reported_wrong(self) -> int:
        return sum(1 for ok in self.feedback_correct if not ok)
