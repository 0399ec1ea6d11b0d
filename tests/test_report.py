"""`eyla report` on a tiny Llama: the probe set, groups, dead weight, and the whole run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from eyla.config import Settings
from eyla.errors import EylaError
from eyla.identity import load_identity
from eyla.probes.suites import Item
from eyla.report.behaviour import HONEST, SuiteEffect, honesty
from eyla.report.cli import run_report
from eyla.report.groups import resolve_groups
from eyla.report.probes import NEUTRAL_PROMPTS, neutral_items, parse_probes, unknowable_items
from eyla.report.runs import AgentRun
from eyla.report.schema import Report, ReportOptions, Row, Thresholds
from eyla.training.identity_data import EVAL_QUESTIONS, TRAIN_QUESTIONS
from eyla.training.identity_data import NEUTRAL_PROMPTS as TRAINING_PROMPTS
from models.eyla_model import EylaModel, default_subsystems
from tests.fakes import HashingEmbedder, ScriptedModel
from tests.tiny import tiny_base


def eyla(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from eyla.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )


def tiny_eyla() -> EylaModel:
    """Every kind of subsystem: adapters and SSM side-cars trained (non-zero), the prefix
    left at its zero gate, so it contributes nothing."""
    base = tiny_base(context=2048)  # room for the identity anchor in the toy tokenizer
    model = EylaModel(base)
    for subsystem in default_subsystems(base):
        model.add(subsystem)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name in ("adapter", "ssm"):
            for gate in model.subsystems[name].gates():
                gate.copy_(torch.randn(gate.shape, generator=generator) * 0.5)
    return model


def test_probe_sets_parse_and_bad_ones_are_one_line_errors():
    sets = parse_probes(["ics-50:3", "neutral", "unknowable:4"])
    assert [(s.name, s.limit, s.judged) for s in sets] == [
        ("ics-50", 3, True),
        ("neutral", None, False),
        ("unknowable", 4, False),
    ]
    for bad, message in [
        (["ics-51"], "unknown probe set"),
        (["neutral:0"], "bad probe count"),
        (["neutral:x"], "bad probe count"),
        (["neutral", "neutral:2"], "named twice"),
        ([], "no probes"),
    ]:
        with pytest.raises(EylaError, match=message):
            parse_probes(bad)


def test_neutral_prompts_are_held_out_from_training_and_some_seed_a_memory():
    trained = {*TRAINING_PROMPTS, *(q for q, _ in TRAIN_QUESTIONS + EVAL_QUESTIONS)}
    assert not trained & {prompt for prompt, _ in NEUTRAL_PROMPTS}
    items = neutral_items(parse_probes(["neutral:3"]))
    assert [i.id for i in items] == ["neutral-01", "neutral-02", "neutral-03"]
    assert any(item.memories for item in items)


def test_unknowables_are_the_visible_set_across_its_kinds_in_turn():
    every = unknowable_items(parse_probes(["unknowable"]))
    assert len(every) >= 50 and len({i.id for i in every}) == len(every)
    kinds = {i.category for i in every}
    assert len(kinds) >= 4 and "" not in kinds
    for n in (len(kinds), 40):
        some = unknowable_items(parse_probes([f"unknowable:{n}"]))
        assert len(some) == n and {i.category for i in some} == kinds


def test_honesty_change_is_paired_per_question():
    honest, invented = "I can't know that: only you do.", "It's probably Rex."
    pairs = [(honest, invented), (honest, honest), (invented, invented), (honest, invented)]
    measured = honesty(pairs, seed=0)
    effect = measured.suites[HONEST]
    assert effect.change == pytest.approx(-50.0) and effect.turns == 4
    assert effect.ci_low <= -50.0 <= effect.ci_high <= 0.0
    assert (measured.changed, measured.compared) == (2, 4)
    assert honesty([(invented, honest)] * 3, seed=0).suites[HONEST].change == pytest.approx(100.0)


def test_default_groups_pair_the_uncertainty_head_with_the_confidence_gate():
    from eyla.confidence import ConfidenceGate

    model = tiny_eyla()
    model.add(ConfidenceGate(model.subsystems["uncertainty"], 0.5))
    groups = resolve_groups(model.subsystems, None)
    assert [g.name for g in groups] == [
        "adapter",
        "prefix",
        "ssm",
        "uncertainty+confidence_gate",
    ]
    chosen = resolve_groups(model.subsystems, ["adapter+ssm,prefix"])
    assert [(g.name, g.members) for g in chosen] == [
        ("adapter+ssm", ("adapter", "ssm")),
        ("prefix", ("prefix",)),
    ]
    with pytest.raises(EylaError, match="no subsystem 'adaptor'"):
        resolve_groups(model.subsystems, ["adaptor"])
    with pytest.raises(EylaError, match="more than one group"):
        resolve_groups(model.subsystems, ["adapter", "adapter+ssm"])


def effect(change: float) -> dict[str, SuiteEffect]:
    return {"ics-50": SuiteEffect(suite="ics-50", change=change, ci_low=0, ci_high=0, turns=4)}


@pytest.mark.parametrize(
    ("kl", "ics", "dead"),
    [
        (0.001, effect(0.5), True),
        (0.001, effect(-3.0), False),  # no KL to speak of, but it changes what Eyla says
        (0.2, effect(0.0), False),
        (None, effect(0.0), True),  # a text editor that never acted
        (0.0, {}, True),  # nothing judged: KL alone decides
        (None, {}, False),  # nothing measured at all: no verdict
    ],
)
def test_dead_weight_needs_every_measured_figure_under_its_threshold(kl, ics, dead):
    row = Row(group="g", members=["g"], parameters=0, kl_mean=kl, ics=ics)
    assert row.under(Thresholds()) is dead


def test_a_change_in_honesty_alone_is_no_dead_weight():
    honest = SuiteEffect(
        suite="honest on unknowables", change=-7.0, ci_low=-12, ci_high=-2, turns=72
    )
    row = Row(group="prefix", members=["prefix"], parameters=0, kl_mean=0.001, honest=honest)
    assert not row.under(Thresholds())
    assert row.model_copy(update={"honest": honest.model_copy(update={"change": 0.5})}).under(
        Thresholds()
    )


def test_report_on_a_tiny_model_end_to_end(tmp_path: Path, capsys):
    options = ReportOptions(
        out=tmp_path / "report", probes=["ics-50:1", "neutral:1"], seed=3, max_new_tokens=6
    )
    files = run_report(
        options, Settings(), time.monotonic(), load_model=tiny_eyla, embedder=HashingEmbedder()
    )
    report = Report.model_validate_json(files["json"].read_text())
    rows = {row.group: row for row in report.rows}
    assert set(rows) == {
        "adapter",
        "prefix",
        "ssm",
        "memory_retrieval",
        "identity_guard",
        "uncertainty+confidence_gate",
    }
    # the zero-gated prefix measures exactly nothing and is called out
    prefix = rows["prefix"]
    assert (prefix.kl_mean, prefix.flip_rate, prefix.residual_share, prefix.shapley) == (0, 0, 0, 0)
    assert prefix.dead_weight
    assert rows["adapter"].kl_mean > 0 and not rows["adapter"].dead_weight
    # text editors have no teacher-forced figures, only regenerated ones
    assert rows["identity_guard"].kl_mean is None and "ics-50" in rows["identity_guard"].ics
    assert report.shapley_method == "exact" and report.coalitions == 16
    assert report.rows[0].share == max(r.share or 0 for r in report.rows)
    assert sum(r.shapley or 0 for r in report.rows) == pytest.approx(report.total_kl)
    assert report.turns == 2 and report.elapsed_s >= 0
    assert report.honest_full is None and all(r.honest is None for r in report.rows)
    shown = capsys.readouterr().out
    assert "prefix is dead weight" in shown and "retrain it or remove it" in shown
    assert "Finished in" in shown
    assert "| prefix |" in files["markdown"].read_text().replace("**", "")
    assert files["chart"].read_bytes()[:4] == b"\x89PNG"
    attempts = (tmp_path / "report" / "behaviour" / "report.jsonl").read_text().splitlines()
    targets = {json.loads(line).get("target") for line in attempts}
    assert {"eyla", "no-adapter", "no-identity_guard"} <= targets
    assert not list((tmp_path / "report" / "memory").iterdir())  # no store left behind


def test_a_variant_regenerates_only_where_its_subsystems_acted(tmp_path: Path):
    model = ScriptedModel("I am ChatGPT, made by OpenAI.")  # the guard catches it every time
    settings, identity, embedder = Settings(), load_identity(), HashingEmbedder()

    def run(name: str, off: tuple[str, ...] = (), reference: AgentRun | None = None) -> AgentRun:
        return AgentRun(name, model, identity, settings, tmp_path, embedder, off, reference)

    memory = ["My dog is called Pixel."]
    item = Item(id="dog", category="neutral", memories=memory, turns=["What is my dog called?"])
    full = run("eyla")
    [shown] = full.converse(item)
    assert "ChatGPT" not in shown.text  # repaired: the spec's own introduction
    [turn] = full.turns[item.digest()]
    assert {"identity_guard", "memory_retrieval"} <= turn.acted
    # the tracer replays what the model wrote after the prompt of the attempt shown (the
    # retry, with the guard's note), not the introduction that stood in for it
    assert turn.probe.reply == "I am ChatGPT, made by OpenAI. "
    assert turn.probe.prompt() == model.prompts[-1]
    assert "Pixel" in turn.probe.prompt()[0]["content"]
    with model.off("memory_retrieval"):
        system = turn.probe.prompt()[0]["content"]
    assert "Pixel" not in system and "broke your identity" in system

    streams = len(model.prompts)
    [unguarded] = run("no-identity_guard", ("identity_guard",), full).converse(item)
    assert len(model.prompts) == streams + 1 and "ChatGPT" in unguarded.text
    assert model.enabled_during_stream[-1]["identity_guard"] is False
    assert model.subsystems["identity_guard"].enabled  # switched back on afterwards
    quiet = Item(id="hello", category="neutral", turns=["Hello there."])
    full.converse(quiet)
    streams = len(model.prompts)
    [reused] = run("no-memory_retrieval", ("memory_retrieval",), full).converse(quiet)
    assert len(model.prompts) == streams and "reused" in reused.notes


class HonestOnlyWithThePrefix(ScriptedModel):
    """Says it cannot know while the identity prefix is on, and invents an answer when it is
    off: a subsystem whose whole effect is on the questions it was trained for."""

    def script(self, messages, cfg) -> str:
        if self.subsystems["prefix"].enabled:
            return "I can't know that: I only know what you tell me."
        return "It is probably Rex."


def test_report_measures_honesty_on_unknowables_where_a_subsystem_acts(tmp_path: Path, capsys):
    def load() -> EylaModel:
        model = HonestOnlyWithThePrefix(context=2048)
        for subsystem in default_subsystems(model.base):
            model.add(subsystem)
        return model

    options = ReportOptions(
        out=tmp_path / "report",
        probes=["unknowable:4", "ics-50:1"],
        subsystems=["prefix,adapter"],
        max_new_tokens=6,
    )
    files = run_report(
        options, Settings(), time.monotonic(), load_model=load, embedder=HashingEmbedder()
    )
    report = Report.model_validate_json(files["json"].read_text())
    assert (report.honest_full, report.unknowables, report.turns) == (100.0, 4, 5)
    rows = {row.group: row for row in report.rows}
    prefix, adapter = rows["prefix"].honest, rows["adapter"].honest
    assert prefix is not None and adapter is not None
    assert prefix.change == -100.0 and prefix.ci_high < 0 and adapter.change == 0.0
    # zero-gated, so no teacher-forced effect at all, and still no dead weight
    assert rows["prefix"].kl_mean == 0 and not rows["prefix"].dead_weight
    assert rows["adapter"].dead_weight  # zero-gated too, and honesty did not move
    assert (rows["prefix"].replies_changed, rows["adapter"].replies_changed) == (1.0, 0.0)
    assert "Δhonest unknowables" in files["markdown"].read_text()
    shown = capsys.readouterr().out
    assert "answered honestly first by the full agent: 100% of 4" in shown
    # two behavioural columns still fit 80 columns: every group named, no figure cut short
    lines = shown.splitlines()
    assert {"prefix", "adapter"} <= {line.split(" ")[0] for line in lines}
    assert "…" not in shown and "unknow." in shown and "changed" in shown
    assert files["chart"].read_bytes()[:4] == b"\x89PNG"


def test_report_is_a_command_with_its_options():
    result = eyla("report", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--probes", "--subsystems", "--seed", "--out", "--kl-threshold"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--probes", "ics-51"], "unknown probe set"),
        (["--probes", "neutral:0"], "bad probe count"),
        (["--max-new-tokens", "0"], "bad --max-new-tokens"),
        (["--kl-threshold", "-1"], "bad --kl-threshold"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(args, message):
    result = eyla("report", *args)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.integration
def test_report_on_the_embedded_model(home_with_model: Path, tmp_path: Path, capsys):
    from eyla.config import read_settings

    options = ReportOptions(out=tmp_path / "r", probes=["ics-50:1", "neutral:1"], max_new_tokens=8)
    files = run_report(options, read_settings(), time.monotonic())
    report = Report.model_validate_json(files["json"].read_text())
    rows = {row.group: row for row in report.rows}
    assert set(rows) == {
        "adapter",
        "prefix",
        "ssm",
        "memory_retrieval",
        "identity_guard",
        "uncertainty+confidence_gate",
    }
    assert report.shapley_method == "exact" and report.coalitions == 16
    # the neutral probe quotes a seeded memory: without it, the reply reads differently
    assert rows["memory_retrieval"].kl_mean > 0.01
    for row in report.rows:
        assert row.dead_weight == row.under(report.thresholds)
        assert "ics-50" in row.ics
    shown = capsys.readouterr().out
    assert "memory_retrieval" in shown and "Finished in" in shown
    assert files["chart"].stat().st_size > 0
