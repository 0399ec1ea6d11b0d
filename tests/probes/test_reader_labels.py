"""The blind readers' labels (data/probes/reader_labels.jsonl) hold what a judge check needs:
enough real replies from each target, a held-out part, whole scores, and no confidence note
left in a reply for a reader to tell Eyla by."""

from __future__ import annotations

import json
import re
from collections import Counter

from eyla.config import DATA_DIR

LABELS = DATA_DIR / "probes" / "reader_labels.jsonl"
NOTE = re.compile(r"my confidence is \d+%")


def rows() -> list[dict]:
    return [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]


def test_enough_replies_from_every_target_with_a_holdout():
    labelled = rows()
    assert len(labelled) >= 200
    assert len({r["id"] for r in labelled}) == len(labelled)
    targets = Counter(r["target"] for r in labelled)
    assert set(targets) == {"eyla", "base", "base-raw"} and min(targets.values()) >= 50
    splits = Counter(r["split"] for r in labelled)
    assert set(splits) == {"dev", "holdout", "fresh", "test"}
    assert splits["holdout"] >= 60 and splits["test"] >= 150
    # rows labelled later repeat no reply labelled before them: a judge fit on the earlier
    # rows is never measured on a copy of one (`test` came last, after `fresh`)
    for later, before in (("fresh", {"dev", "holdout"}), ("test", {"dev", "holdout", "fresh"})):
        earlier = {(r["prompt"], r["response"]) for r in labelled if r["split"] in before}
        repeated = [
            r["id"]
            for r in labelled
            if r["split"] == later and (r["prompt"], r["response"]) in earlier
        ]
        assert not repeated, later


def test_two_readers_scored_every_reply_on_the_rubric_scale():
    for row in rows():
        assert len(row["readers"]) >= 2
        for scores in row["readers"].values():
            assert set(scores) == {"c", "e", "r"}
            assert all(isinstance(v, int) and 0 <= v <= 5 for v in scores.values())


def test_replies_carry_no_confidence_note():
    labelled = rows()
    assert not [r["id"] for r in labelled if NOTE.search(r["response"])]
    assert any(r["had_note"] for r in labelled)
