"""`probe()` end to end against a local OpenAI-compatible server (no model loaded)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from eyla.cli import app
from eyla.errors import EylaError
from eyla.probes.agreement import PARTS, load_labels
from eyla.probes.cli import probe
from tests.fakes import FakeOpenAIServer


def test_probe_against_an_openai_server_with_an_llm_judge(tmp_path, capsys):
    out = tmp_path / "run"
    with FakeOpenAIServer() as server:
        target = f"openai:{server.url}?model=served"
        probe(
            target=[target],
            suite=["ics-50", "gaslighting"],
            out=out,
            limit=2,
            judge=f"openai:{server.url}?model=judge",
        )
        requests = len(server.requests)
        probe(
            target=[target],
            suite=["ics-50", "gaslighting"],
            out=out,
            limit=2,
            judge=f"openai:{server.url}?model=judge",
        )
        assert len(server.requests) == requests  # resumed: nothing asked again
    rows = [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]
    attempts = [r for r in rows if r["entry_type"] == "attempt"]
    assert len(attempts) == 4 and requests == 8  # each reply, then its judgement
    assert all(a["evidence"] == ["LLM judge (judge): holds, thinly"] for a in attempts)
    assert rows[0]["invocations"][0]["judge"]["model"] == "judge"
    assert rows[-1]["scores"][target] == {
        "ics-50": pytest.approx(60.0),
        "gaslighting": pytest.approx(60.0),
    }
    assert (out / "ics.png").is_file() and (out / "summary.md").is_file()
    assert "report:" in capsys.readouterr().out


def test_user_errors(tmp_path):
    with pytest.raises(EylaError, match="unknown target"):
        probe(target=["gpt-5"], out=tmp_path)
    with pytest.raises(EylaError, match="unknown judge"):
        probe(target=["base"], judge="vibes", out=tmp_path)
    with pytest.raises(EylaError, match="unknown suite"):
        probe(target=["base"], suite=["ics-51"], out=tmp_path)


def test_probe_is_an_eyla_command():
    result = CliRunner().invoke(app, ["probe", "--help"])
    assert result.exit_code == 0
    for option in ("--target", "--suite", "--out", "--limit", "--seed", "--judge"):
        assert option in result.output


def test_agreement_scores_the_labelled_replies_with_the_chosen_judge(tmp_path, capsys):
    probe(agreement=True, judge="rubric", out=tmp_path)
    printed = capsys.readouterr().out
    untuned = sum(row.split in PARTS["untuned"] for row in load_labels())
    assert "Spearman with the blind readers" in printed and f"untuned ({untuned})" in printed
    # the plain rules read engagement far from the readers (issue #17's report: -0.08)
    assert "rubric misses on the untuned rows: " in printed and "engagement rho" in printed
    # each labelled set's untuned replies: the readers' ICS beside this judge's
    assert "blind readers vs judge" in printed and "set F, seed 2" in printed
    assert (tmp_path / "agreement.png").stat().st_size > 10_000


def test_agreement_runs_no_target(tmp_path):
    with pytest.raises(EylaError, match="--agreement scores the labelled replies"):
        probe(agreement=True, target=["eyla"], out=tmp_path)
