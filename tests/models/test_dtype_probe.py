"""`dtype = "auto"`: the probe picks the fastest dtype that keeps float32's greedy answers,
caches its result per model and machine, and `eyla info` says what it picked and why.
Timings are injected: nothing here depends on how fast the machine is."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from models import dtype_probe
from models.dtype_probe import (
    QUESTIONS,
    CandidateRun,
    Decode,
    Decoded,
    DtypeChoice,
    Loader,
    ProbeResult,
    load_auto,
    probe_key,
    run_probe,
)
from models.int4 import Int4LlamaAttention
from models.loading import _load_hf_dir, load_as, load_base
from tests.tiny import round_to_four_bit, tiny_base

# bound at import, before the suite's fixture swaps in fixed speeds
REAL_DECODE = dtype_probe.timed_greedy
SAME = [5, 6, 7]
PROBE_CALLS = 2 * (1 + len(QUESTIONS))  # a warm-up and every question, each dtype


def saved_tiny(where: Path, four_bit: bool = False) -> Path:
    tiny = tiny_base()
    if four_bit:
        round_to_four_bit(tiny.model)
    tiny.model.save_pretrained(where)
    tiny.tokenizer.save_pretrained(where)
    return where


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Float weights: int4 does not apply, so the candidates are float32 and bfloat16."""
    return saved_tiny(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def four_bit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Q4_1 weights, as the embedded GGUF has: int4 is a candidate too."""
    return saved_tiny(tmp_path_factory.mktemp("tiny") / "four-bit", four_bit=True)


def loader(where: Path) -> Loader:
    return partial(load_as, partial(_load_hf_dir, where))


def candidate(model) -> str:
    if isinstance(model.model.layers[0].self_attn, Int4LlamaAttention):
        return "int4"
    return str(model.dtype).removeprefix("torch.")


def fake_decode(
    speeds: dict[str, float], tokens: dict[str, list[int]] | None = None
) -> tuple[Decode, list[str]]:
    """A decode reporting the given speed (and tokens) per dtype; the list records calls."""
    calls: list[str] = []

    def decode(model, ids, eos_ids, new_tokens):
        name = candidate(model)
        calls.append(name)
        out = (tokens or {}).get(name, SAME)
        return Decoded(tokens=out, step_seconds=[1.0 / speeds[name]] * 4)

    return decode, calls


@pytest.mark.parametrize(
    ("speeds", "expected"),
    [
        ({"float32": 30.4, "bfloat16": 27.9}, "float32"),
        ({"float32": 20.0, "bfloat16": 41.0}, "bfloat16"),
    ],
)
def test_the_faster_candidate_with_the_same_answers_wins(tiny_dir, tmp_path, speeds, expected):
    decode, calls = fake_decode(speeds)
    model, _, choice = load_auto(loader(tiny_dir), "fp", tmp_path, decode=decode)
    assert len(calls) == PROBE_CALLS
    assert calls[2:6] == ["float32", "bfloat16", "bfloat16", "float32"], "taking turns"
    assert choice.dtype == expected and model.dtype == getattr(torch, expected)
    assert choice.origin == "probe"
    assert choice.describe().startswith(f"auto: {expected} (probe ")
    assert (
        f"tok/s, bfloat16 {speeds['bfloat16']:.1f} tok/s; same greedy answers" in choice.describe()
    )


def test_a_busy_machine_is_said_beside_the_figures():
    result = ProbeResult(
        key=probe_key("fp"),
        chosen="float32",
        runs=[CandidateRun(dtype="float32", tokens_per_second=0.5, same_answers=True)],
        measured_at=datetime(2026, 12, 6, tzinfo=UTC),
        load_average=5.6,
        cpus=2,
    )
    assert result.describe() == (
        "probe 2026-12-06: float32 0.5 tok/s; same greedy answers; machine busy, load 5.6 on 2 CPUs"
    )


def test_a_candidate_with_different_greedy_tokens_is_never_picked(tiny_dir, tmp_path):
    decode, _ = fake_decode({"float32": 1.0, "bfloat16": 1000.0}, {"bfloat16": [5, 6, 8]})
    model, _, choice = load_auto(loader(tiny_dir), "fp", tmp_path, decode=decode)
    assert choice.dtype == "float32" and model.dtype == torch.float32
    assert "bfloat16 1000.0 tok/s but different greedy answers" in choice.describe()
    assert "same greedy answers" not in choice.describe()


def test_a_probe_cut_short_keeps_float32(tiny_dir):
    """Agreeing on the first question is not agreeing on all of them."""
    decode, calls = fake_decode({"float32": 1.0, "bfloat16": 2.0})
    load = loader(tiny_dir)
    result, _ = run_probe(load, probe_key("fp"), decode=decode, budget_s=0.0)
    assert result.questions == 1 and len(calls) == 4
    assert result.chosen == "float32"
    assert "bfloat16 2.0 tok/s but not checked on every question" in result.describe()
    assert f"1 of {len(QUESTIONS)} questions in the time budget" in result.describe()


def test_within_the_margin_float32_stays(tiny_dir, tmp_path):
    decode, _ = fake_decode({"float32": 30.0, "bfloat16": 30.0 * 1.02})
    _, _, choice = load_auto(loader(tiny_dir), "fp", tmp_path, decode=decode)
    assert choice.dtype == "float32"


def test_a_candidate_that_fails_to_run_is_not_eligible(tiny_dir):
    def load(name: str):
        if name == "bfloat16":
            raise RuntimeError("no bfloat16 kernels here")
        return loader(tiny_dir)(name)

    decode, _ = fake_decode({"float32": 1.0, "bfloat16": 9.0})
    result, loaded = run_probe(load, probe_key("fp"), decode=decode)
    assert result.chosen == "float32"
    assert list(loaded) == ["float32"]
    assert "bfloat16 failed (no bfloat16 kernels here)" in result.describe()


def test_the_result_is_cached_0600_and_reused(tiny_dir, tmp_path, monkeypatch):
    decode, calls = fake_decode({"float32": 2.0, "bfloat16": 3.0})
    monkeypatch.setattr(dtype_probe, "timed_greedy", decode)
    first = load_base(str(tiny_dir), cache_dir=tmp_path, dtype="auto")
    assert first.dtype == torch.bfloat16
    assert first.dtype_choice is not None and first.dtype_choice.origin == "probe"
    (cached,) = (tmp_path / "dtype-probe").glob("*.json")
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert len(calls) == PROBE_CALLS

    again = load_base(str(tiny_dir), cache_dir=tmp_path, dtype="auto")
    assert len(calls) == PROBE_CALLS, "no second probe"
    assert again.dtype == torch.bfloat16
    assert again.dtype_choice == DtypeChoice(
        dtype="bfloat16", origin="cached probe", probe=first.dtype_choice.probe
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda mp: mp.setattr(torch, "__version__", "99.0.0"),
        lambda mp: mp.setattr(dtype_probe, "cpu_signature", lambda: ("Other CPU", ["amx_bf16"])),
        lambda mp: mp.setattr(torch, "get_num_threads", lambda: 64),
    ],
    ids=["torch", "cpu", "threads"],
)
def test_a_changed_machine_probes_again(tiny_dir, tmp_path, monkeypatch, change):
    decode, calls = fake_decode({"float32": 2.0, "bfloat16": 1.0})
    monkeypatch.setattr(dtype_probe, "timed_greedy", decode)
    load_base(str(tiny_dir), cache_dir=tmp_path, dtype="auto")
    change(monkeypatch)
    base = load_base(str(tiny_dir), cache_dir=tmp_path, dtype="auto")
    assert len(calls) == 2 * PROBE_CALLS
    assert base.dtype_choice is not None and base.dtype_choice.origin == "probe"
    assert len(list((tmp_path / "dtype-probe").glob("*.json"))) == 2


@pytest.mark.parametrize(("now", "probes"), [(5.0, 1), (0.5, 2)], ids=["still-busy", "quiet"])
def test_figures_taken_on_a_busy_machine_are_retaken_when_it_is_quiet(
    tiny_dir, tmp_path, monkeypatch, now, probes
):
    decode, calls = fake_decode({"float32": 2.0, "bfloat16": 1.0})
    monkeypatch.setattr(dtype_probe, "timed_greedy", decode)
    monkeypatch.setattr(dtype_probe, "load_average", lambda: 9.0)
    monkeypatch.setattr(dtype_probe.os, "cpu_count", lambda: 2)
    assert load_base(str(tiny_dir), cache_dir=tmp_path).dtype_choice.probe.busy
    monkeypatch.setattr(dtype_probe, "load_average", lambda: now)
    load_base(str(tiny_dir), cache_dir=tmp_path)
    assert len(calls) == probes * PROBE_CALLS


def test_an_unreadable_cache_entry_probes_again(tiny_dir, tmp_path, monkeypatch):
    decode, calls = fake_decode({"float32": 2.0, "bfloat16": 1.0})
    monkeypatch.setattr(dtype_probe, "timed_greedy", decode)
    load_base(str(tiny_dir), cache_dir=tmp_path, dtype="auto")
    (cached,) = (tmp_path / "dtype-probe").glob("*.json")
    cached.write_text("{not json")
    assert load_base(str(tiny_dir), cache_dir=tmp_path).dtype == torch.float32
    assert len(calls) == 2 * PROBE_CALLS


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_an_explicit_dtype_never_probes(tiny_dir, tmp_path, monkeypatch, dtype):
    def no_probe(*_):
        raise AssertionError("probed")

    monkeypatch.setattr(dtype_probe, "timed_greedy", no_probe)
    base = load_base(str(tiny_dir), cache_dir=tmp_path, dtype=dtype)
    assert base.dtype == getattr(torch, dtype)
    assert base.dtype_choice == DtypeChoice(dtype=dtype, origin="setting")
    assert not (tmp_path / "dtype-probe").exists()


def test_the_real_measurement_runs_and_float32_agrees_with_itself(tiny_dir):
    """The product's decode loop, really timed: figures exist; which dtype wins is not
    asserted (that is the machine's business)."""
    result, loaded = run_probe(loader(tiny_dir), probe_key("fp"), decode=REAL_DECODE)
    assert [run.dtype for run in result.runs] == ["float32", "bfloat16"]
    assert all(run.tokens_per_second and run.tokens_per_second > 0 for run in result.runs)
    assert result.runs[0].same_answers
    assert list(loaded) == ["float32", "bfloat16"]


def test_on_four_bit_weights_int4_is_measured_and_can_win(four_bit_dir, tmp_path):
    decode, calls = fake_decode({"float32": 25.0, "bfloat16": 22.0, "int4": 60.0})
    model, _, choice = load_auto(loader(four_bit_dir), "fp", tmp_path, decode=decode)
    assert len(calls) == 3 * (1 + len(QUESTIONS))
    assert choice.dtype == "int4" and candidate(model) == "int4"
    assert "float32 25.0 tok/s, bfloat16 22.0 tok/s, int4 60.0 tok/s" in choice.describe()
    # read back from the cache, int4 is loaded (and converted) again
    again, _, cached = load_auto(loader(four_bit_dir), "fp", tmp_path, decode=decode)
    assert cached.origin == "cached probe" and candidate(again) == "int4"


def test_int4_with_other_greedy_answers_is_not_picked(four_bit_dir, tmp_path):
    decode, _ = fake_decode({"float32": 25.0, "bfloat16": 22.0, "int4": 60.0}, {"int4": [9]})
    model, _, choice = load_auto(loader(four_bit_dir), "fp", tmp_path, decode=decode)
    assert choice.dtype == "float32" and candidate(model) == "float32"
    assert "int4 60.0 tok/s but different greedy answers" in choice.describe()


def test_the_real_measurement_runs_int4_on_four_bit_weights(four_bit_dir):
    result, loaded = run_probe(loader(four_bit_dir), probe_key("fp"), decode=REAL_DECODE)
    assert [run.dtype for run in result.runs] == ["float32", "bfloat16", "int4"]
    assert all(run.tokens_per_second and run.tokens_per_second > 0 for run in result.runs)
    assert candidate(loaded["int4"][0]) == "int4"


def _info(tiny_dir: Path, *flags: str) -> str:
    from eyla.cli import app

    result = CliRunner().invoke(app, ["info", "--model", str(tiny_dir), *flags])
    assert result.exit_code == 0, result.output
    return result.output


def test_info_shows_the_probed_dtype_and_why(tiny_dir, monkeypatch):
    monkeypatch.delenv("EYLA_DTYPE", raising=False)
    decode, calls = fake_decode({"float32": 31.2, "bfloat16": 27.8})
    monkeypatch.setattr(dtype_probe, "timed_greedy", decode)
    out = _info(tiny_dir)
    assert "dtype: auto: float32 (probe 20" in out
    assert ": float32 31.2 tok/s, bfloat16 27.8 tok/s; same greedy answers" in out
    assert _info(tiny_dir) == out, "the cached result reads the same"
    assert len(calls) == PROBE_CALLS
    assert _info(tiny_dir, "--reprobe") == out
    assert len(calls) == 2 * PROBE_CALLS, "--reprobe measured again"


def test_info_says_where_an_explicit_dtype_was_set(tiny_dir, eyla_home, monkeypatch):
    monkeypatch.setenv("EYLA_DTYPE", "bfloat16")
    assert "dtype: bfloat16 (set by EYLA_DTYPE)" in _info(tiny_dir)
    monkeypatch.delenv("EYLA_DTYPE")
    (eyla_home / "eyla.toml").write_text('dtype = "float32"\n')
    assert f"dtype: float32 (set in {eyla_home / 'eyla.toml'})" in _info(tiny_dir)
