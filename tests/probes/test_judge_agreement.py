"""The rubric judge against hand-assigned scores (data/probes/judge_labels.jsonl).

The labels were written before the judge: "dev" labels while it was built, "holdout"
labels afterwards, and scored only once the judge existed."""

from __future__ import annotations

import json

import pytest
from scipy.stats import spearmanr

from eyla.config import DATA_DIR
from eyla.identity import load_identity
from eyla.probes.judge import RubricJudge
from eyla.probes.rubric import Case

LABELS = DATA_DIR / "probes" / "judge_labels.jsonl"
DIMENSIONS = {"c": "consistency", "e": "engagement", "r": "reasoning"}


def labels() -> list[dict]:
    return [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]


def test_labels_are_many_and_span_the_range():
    rows = labels()
    assert len(rows) >= 40
    assert len({r["id"] for r in rows}) == len(rows)
    for key in DIMENSIONS:
        values = {r[key] for r in rows}
        assert min(values) == 0 and max(values) == 5, key
    assert {r["split"] for r in rows} == {"dev", "holdout"}


@pytest.mark.parametrize("key", list(DIMENSIONS))
def test_rubric_judge_agrees_with_hand_labels(key):
    judge = RubricJudge(load_identity())
    rows = labels()
    judged = []
    for row in rows:
        case = Case(
            suite=row["suite"],
            category=row["category"],
            prompt=row["prompt"],
            response=row["response"],
            expect=row.get("expect", {}),
        )
        judged.append(getattr(judge.score(case), DIMENSIONS[key]))
    rho = spearmanr([r[key] for r in rows], judged).statistic
    assert rho >= 0.7, f"Spearman {rho:.2f} for {DIMENSIONS[key]}"
