"""The harness with scripted targets: report entries, resume, table and chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eyla.errors import EylaError
from eyla.identity import load_identity
from eyla.probes.judge import RubricJudge
from eyla.probes.records import RunConfig
from eyla.probes.rubric import Case, Verdict
from eyla.probes.runner import Runner
from eyla.probes.suites import load_suite
from tests.fakes import COLLAPSED, FAITHFUL, ScriptedTarget


def config(seed: int = 0) -> RunConfig:
    return RunConfig(seed=seed, decoding={"seed": seed}, identity={"name": "Eyla"})


def runner(out: Path, targets, suites=("ics-50",), limit=6, seed=0, judge=None) -> Runner:
    spec = load_identity()
    loaded = [load_suite(s).rendered(spec).limited(limit) for s in suites]
    return Runner(targets, loaded, judge or RubricJudge(spec), config(seed), out, limit)


def entries(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]


def test_report_has_run_attempt_eval_and_summary_entries(tmp_path):
    target = ScriptedTarget()
    result = runner(tmp_path, [target]).run()
    rows = entries(tmp_path)
    kinds = [r["entry_type"] for r in rows]
    assert kinds[0] == "start_run" and kinds[-1] == "summary"
    attempts = [r for r in rows if r["entry_type"] == "attempt"]
    # 6 items across categories: 5 single prompts + one 5-turn escalation conversation
    assert len(attempts) == target.turns == 10
    first = attempts[0]
    assert first["prompt"] and first["response"] == FAITHFUL
    assert first["verdict"]["consistency"] == 5 and first["evidence"]
    escalation = [a for a in attempts if a["category"] == "escalation"]
    assert [a["turn"] for a in escalation] == [0, 1, 2, 3, 4]
    assert escalation[-1]["history"][-1]["role"] == "assistant"
    evals = [r for r in rows if r["entry_type"] == "eval"]
    whole = next(e for e in evals if e["category"] is None)
    assert whole["responses"] == 10 and whole["ci_low"] <= whole["score"] <= whole["ci_high"]
    assert rows[0]["config"]["seed"] == 0 and rows[0]["targets"][0]["fingerprint"]
    assert result.generated == 10


def test_rerun_with_the_same_out_generates_nothing_new(tmp_path):
    runner(tmp_path, [ScriptedTarget()]).run()
    before = [r for r in entries(tmp_path) if r["entry_type"] == "attempt"]
    again = ScriptedTarget()
    result = runner(tmp_path, [again]).run()
    after = [r for r in entries(tmp_path) if r["entry_type"] == "attempt"]
    assert again.turns == 0 and result.generated == 0
    assert after == before
    kinds = [r["entry_type"] for r in entries(tmp_path)]
    assert kinds.count("start_run") == 1 and kinds.count("summary") == 1


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path):
    calls = {"n": 0}

    def flaky(item, turn):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return FAITHFUL

    with pytest.raises(KeyboardInterrupt):
        runner(tmp_path, [ScriptedTarget(answer=flaky)]).run()
    kept = [r for r in entries(tmp_path) if r["entry_type"] == "attempt"]
    assert len(kept) == 3
    target = ScriptedTarget()
    runner(tmp_path, [target]).run()
    assert target.turns == 10 - 3
    attempts = [r for r in entries(tmp_path) if r["entry_type"] == "attempt"]
    assert len({(a["item"], a["turn"]) for a in attempts}) == len(attempts) == 10
    invocations = entries(tmp_path)[0]["invocations"]
    assert [i["limit"] for i in invocations] == [6, 6]


def test_resuming_with_other_settings_is_refused(tmp_path):
    runner(tmp_path, [ScriptedTarget()], limit=1).run()
    with pytest.raises(EylaError, match="different settings"):
        runner(tmp_path, [ScriptedTarget()], limit=1, seed=1).run()


def test_side_by_side_table_and_chart(tmp_path, capsys):
    good = ScriptedTarget("good")
    bad = ScriptedTarget("bad", answer=lambda item, turn: COLLAPSED)
    result = runner(tmp_path, [good, bad], suites=("ics-50", "uncertainty"), limit=5).run()
    table = result.table.read_text()
    assert "| suite | good | bad |" in table
    assert "**ICS-50**" in table and "**uncertainty**" in table and "escalation" in table
    png = result.chart.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    scores = entries(tmp_path)[-1]["scores"]
    assert scores["good"]["ics-50"] > 80 > 25 > scores["bad"]["ics-50"]
    assert "ICS-50" in capsys.readouterr().err


def test_sycophancy_counts_only_flips_from_a_right_first_answer(tmp_path):
    right = {"flip-01": "The capital of Australia is Canberra."}

    def answer(item, turn):
        if turn == 0:
            return right.get(item.id, "I am not sure, maybe Sydney.")
        return "You're right, I apologize. It's Sydney."

    runner(tmp_path, [ScriptedTarget(answer=answer)], suites=("sycophancy",), limit=3).run()
    attempts = [r for r in entries(tmp_path) if r["entry_type"] == "attempt"]
    scored = [a for a in attempts if a["scored"]]
    assert [a["excluded"] is None for a in scored] == [True, False, False]
    assert all(a["verdict"] is None for a in attempts if not a["scored"])
    whole = next(
        r for r in entries(tmp_path) if r["entry_type"] == "eval" and r["category"] is None
    )
    assert whole["responses"] == 1 and whole["excluded"] == 2 and whole["score"] <= 20


def test_scores_cover_the_current_plan_and_keep_other_attempts(tmp_path):
    runner(tmp_path, [ScriptedTarget()], limit=2).run()
    result = runner(tmp_path, [ScriptedTarget()], limit=1).run()
    attempts = [r for r in entries(tmp_path) if r["entry_type"] == "attempt"]
    assert len(attempts) == 2  # baseline-01 and social-01 both kept
    whole = next(e for e in result.evals if e.category is None)
    assert whole.items == 1 and whole.responses == 1


class ConstantJudge:
    name = "constant"

    def describe(self) -> dict[str, str]:
        return {"judge": self.name}

    def score(self, case: Case) -> Verdict:
        return Verdict(consistency=1, engagement=1, reasoning=1, evidence=["constant"])


def test_a_changed_judge_rescores_stored_responses_without_generating(tmp_path):
    runner(tmp_path, [ScriptedTarget()], limit=2).run()
    target = ScriptedTarget()
    result = runner(tmp_path, [target], limit=2, judge=ConstantJudge()).run()
    assert target.turns == 0 and result.generated == 0
    attempts = [r for r in entries(tmp_path) if r["entry_type"] == "attempt"]
    assert all(a["evidence"] == ["constant"] for a in attempts)
    assert all(a["judged_by"] == {"judge": "constant"} for a in attempts)
    assert entries(tmp_path)[-1]["rejudged"] == 2
    assert [i["judge"]["judge"] for i in entries(tmp_path)[0]["invocations"]] == [
        "rubric",
        "constant",
    ]
