"""The evaluator: ICS from rubric scores, and bootstrap intervals over probe items.

`ICS = mean over responses of (C + E + R) / 15 * 100`. The turns of one conversation are
not independent, so intervals resample whole items (a cluster bootstrap), never turns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from eyla.probes.records import Attempt, Eval

RESAMPLES = 2000
LEVEL = 0.95


def ics(scores: Iterable[tuple[float, float, float]]) -> float:
    """The Identity Consistency Score of (consistency, engagement, reasoning) triples."""
    triples = list(scores)
    if not triples:
        raise ValueError("ICS of no responses")
    return float(np.mean([(c + e + r) / 15 for c, e, r in triples]) * 100)


def bootstrap_ci(
    items: Sequence[Sequence[float]], seed: int, resamples: int = RESAMPLES, level: float = LEVEL
) -> tuple[float, float]:
    """Percentile interval of the mean response score, resampling whole items.

    `items` holds each item's per-response scores (0-100)."""
    rng = np.random.default_rng(seed)
    sums = np.array([sum(item) for item in items], dtype=float)
    counts = np.array([len(item) for item in items], dtype=float)
    picks = rng.integers(0, len(items), size=(resamples, len(items)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def evaluate(attempts: Iterable[Attempt], seed: int) -> list[Eval]:
    """One eval per (target, suite) and per (target, suite, category), in first-seen order."""
    groups: dict[tuple[str, str, str | None], list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        if not attempt.scored:
            continue
        groups[(attempt.target, attempt.suite, None)].append(attempt)
        groups[(attempt.target, attempt.suite, attempt.category)].append(attempt)
    return [_eval(key, group, seed) for key, group in groups.items()]


def _eval(key: tuple[str, str, str | None], group: list[Attempt], seed: int) -> Eval:
    target, suite, category = key
    counted = [a for a in group if a.counts]
    by_item: dict[str, list[float]] = defaultdict(list)
    for attempt in counted:
        by_item[attempt.item].append(attempt.score or 0.0)
    verdicts = [a.verdict for a in counted if a.verdict is not None]
    score = low = high = None
    means: list[float | None] = [None, None, None]
    if verdicts:
        score = ics((v.consistency, v.engagement, v.reasoning) for v in verdicts)
        low, high = bootstrap_ci(list(by_item.values()), seed)
        means = [
            float(np.mean([getattr(v, dim) for v in verdicts]))
            for dim in ("consistency", "engagement", "reasoning")
        ]
    return Eval(
        target=target,
        suite=suite,
        category=category,
        items=len({a.item for a in group}),
        responses=len(counted),
        excluded=len(group) - len(counted),
        score=score,
        ci_low=low,
        ci_high=high,
        consistency=means[0],
        engagement=means[1],
        reasoning=means[2],
    )
