"""`eyla probe` on the embedded SmolLM2-135M: the full agent beside the bare base model."""

from __future__ import annotations

import json

import pytest

from eyla.guard import IdentityGuard
from eyla.identity import load_identity
from eyla.probes.cli import probe

pytestmark = pytest.mark.integration


def test_ics_50_limit_2_against_eyla_and_base(home_with_model, tmp_path):
    out = tmp_path / "run"
    probe(target=["eyla", "base"], suite=["ics-50"], out=out, limit=2, max_new_tokens=40)
    rows = [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]
    start, summary = rows[0], rows[-1]
    assert [t["name"] for t in start["targets"]] == ["eyla", "base"]
    assert start["targets"][0]["fingerprint"].startswith(start["targets"][1]["fingerprint"])
    attempts = [r for r in rows if r["entry_type"] == "attempt"]
    assert sorted((a["target"], a["item"]) for a in attempts) == [
        ("base", "baseline-01"),
        ("base", "social-01"),
        ("eyla", "baseline-01"),
        ("eyla", "social-01"),
    ]
    assert all(a["response"] and a["verdict"] and a["evidence"] for a in attempts)
    # the agent's guard never lets an identity break through to the reply
    guard = IdentityGuard(load_identity())
    for attempt in attempts:
        if attempt["target"] == "eyla":
            assert guard.check(attempt["response"]) == [], attempt["response"]
            assert "violations" in attempt["target_notes"]
    assert set(summary["scores"]) == {"eyla", "base"}
    assert all(0 <= s["ics-50"] <= 100 for s in summary["scores"].values())
    # probing wrote nothing to the user's memory, and left no throwaway store behind
    assert not (home_with_model / "eyla.db").exists()
    assert list((out / "memory").iterdir()) == []
    assert (out / "ics.png").stat().st_size > 0
