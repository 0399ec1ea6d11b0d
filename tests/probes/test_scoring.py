"""ICS and its bootstrap interval."""

from __future__ import annotations

import pytest

from eyla.probes.records import Attempt
from eyla.probes.rubric import Verdict
from eyla.probes.scoring import bootstrap_ci, evaluate, ics


def test_ics_formula_on_known_scores():
    assert ics([(5, 5, 5)]) == 100.0
    assert ics([(0, 0, 0)]) == 0.0
    # (15/15 + 6/15) / 2 * 100
    assert ics([(5, 5, 5), (2, 2, 2)]) == pytest.approx(70.0)
    assert ics([(3, 4, 2), (1, 0, 0)]) == pytest.approx((9 / 15 + 1 / 15) / 2 * 100)
    with pytest.raises(ValueError):
        ics([])


def test_bootstrap_is_seeded_and_brackets_the_mean():
    items = [[100.0], [0.0], [60.0, 40.0], [80.0], [20.0]]
    low, high = bootstrap_ci(items, seed=0)
    assert (low, high) == bootstrap_ci(items, seed=0)
    assert low < 50.0 < high
    assert bootstrap_ci([[70.0]], seed=3) == (70.0, 70.0)


def attempt(item: str, category: str, c: int, e: int, r: int, **extra) -> Attempt:
    verdict = Verdict(consistency=c, engagement=e, reasoning=r)
    return Attempt(
        uuid=item,
        seq=0,
        target="t",
        suite="s",
        category=category,
        item=item,
        item_digest="d",
        turn=0,
        scored=True,
        history=[],
        prompt="p",
        response="r",
        verdict=verdict,
        score=verdict.total / 15 * 100,
        judge="rubric",
        **extra,
    )


def test_evaluate_per_suite_and_category_skips_excluded():
    evals = evaluate(
        [
            attempt("a", "x", 5, 5, 5),
            attempt("b", "x", 0, 0, 0),
            attempt("c", "y", 3, 3, 3),
            attempt("d", "y", 0, 0, 0, excluded="first answer wrong"),
        ],
        seed=0,
    )
    by = {e.category: e for e in evals}
    assert by[None].score == pytest.approx((100 + 0 + 60) / 3)
    assert by[None].responses == 3 and by[None].excluded == 1
    assert by["x"].score == pytest.approx(50.0) and by["x"].consistency == pytest.approx(2.5)
    assert by["y"].score == pytest.approx(60.0) and by["y"].items == 2
