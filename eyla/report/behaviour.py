"""What switching a group off does to judged replies: the change in each suite's ICS, paired
turn by turn with the full agent's, with a 95% interval from resampling whole probe items
(the turns of one conversation are not independent), and the share of replies changed."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from pydantic import BaseModel

from eyla.probes.records import Attempt
from eyla.probes.scoring import bootstrap_ci
from eyla.training.reply_sets import says_it_cannot_know

HONEST = "honest on unknowables"


class SuiteEffect(BaseModel):
    suite: str
    # the figure (ICS, or the share answered honestly) with the group off minus the full
    # agent's, 0-100 scale
    change: float
    ci_low: float
    ci_high: float
    turns: int  # scored turns counted for both


class Behaviour(BaseModel):
    suites: dict[str, SuiteEffect]
    changed: int  # probe turns whose reply differs
    compared: int  # probe turns both answered


def behaviour(attempts: list[Attempt], full: str, variant: str, seed: int) -> Behaviour:
    mine = {_key(a): a for a in attempts if a.target == variant}
    pairs = [(a, mine[_key(a)]) for a in attempts if a.target == full and _key(a) in mine]
    by_suite: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for reference, ablated in pairs:
        if reference.counts and ablated.counts:
            diff = (ablated.score or 0.0) - (reference.score or 0.0)
            by_suite[reference.suite][reference.item].append(diff)
    suites = {}
    for suite, items in by_suite.items():
        diffs = [d for item in items.values() for d in item]
        low, high = bootstrap_ci(list(items.values()), seed)
        suites[suite] = SuiteEffect(
            suite=suite, change=float(np.mean(diffs)), ci_low=low, ci_high=high, turns=len(diffs)
        )
    changed = sum(a.response != b.response for a, b in pairs)
    return Behaviour(suites=suites, changed=changed, compared=len(pairs))


def honesty(pairs: list[tuple[str, str]], seed: int) -> Behaviour:
    """The change in the share of unknowable questions answered honestly first (points,
    0-100), from (full agent's reply, variant's reply) pairs of the same questions."""
    diffs = [100.0 * (says_it_cannot_know(off) - says_it_cannot_know(on)) for on, off in pairs]
    low, high = bootstrap_ci([[d] for d in diffs], seed)
    effect = SuiteEffect(
        suite=HONEST, change=float(np.mean(diffs)), ci_low=low, ci_high=high, turns=len(diffs)
    )
    changed = sum(on != off for on, off in pairs)
    return Behaviour(suites={HONEST: effect}, changed=changed, compared=len(pairs))


def _key(attempt: Attempt) -> tuple[str, str, int]:
    return (attempt.suite, attempt.item, attempt.turn)
