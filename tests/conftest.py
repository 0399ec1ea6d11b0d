"""Shared fixtures. Every test gets its own data dir; the embedded model's converted
weights are cached once per machine under `.cache/test-models` (or $EYLA_TEST_CACHE)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from eyla.config import REPO_ROOT

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
TEST_CACHE = Path(os.environ.get("EYLA_TEST_CACHE", REPO_ROOT / ".cache" / "test-models"))


@pytest.fixture(autouse=True)
def eyla_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data dir per test, so no test reads or writes the user's."""
    home = tmp_path / "eyla-home"
    home.mkdir()
    monkeypatch.setenv("EYLA_HOME", str(home))
    return home


# what the dtype probe reports in tests: float32 fastest, so "auto" picks float32 for every
# model a test builds, whatever the machine's load (tests/models/test_dtype_probe.py sets its
# own timings, and runs the real measurement once)
TEST_SPEEDS = {"torch.float32": 2.0, "torch.bfloat16": 1.0}


@pytest.fixture(autouse=True)
def deterministic_dtype_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real greedy tokens (so the agreement check is real), fixed speeds, a quiet machine.
    The session's `embedded_base` is built before this applies and measures for real, once
    per machine."""
    from models import dtype_probe

    real = dtype_probe.timed_greedy

    def fixed_speed(model, ids, eos_ids, new_tokens):
        tokens = real(model, ids, eos_ids, min(new_tokens, 4)).tokens
        step = 1.0 / TEST_SPEEDS[str(model.dtype)]
        return dtype_probe.Decoded(tokens=tokens, step_seconds=[step] * 3)

    monkeypatch.setattr(dtype_probe, "timed_greedy", fixed_speed)
    # a quiet machine, whatever else runs: a cached result is then always reused
    monkeypatch.setattr(dtype_probe, "load_average", lambda: 0.0)


@pytest.fixture(scope="session")
def embedded_base():
    """SmolLM2-135M-Instruct, converted once and shared by the whole session, in the dtype
    Eyla's settings name (`EYLA_DTYPE=float32 make test` runs the suite in float32). Under
    "auto" the dtype probe runs once per machine and is cached beside the converted model,
    so every later session (and test) loads the same dtype without measuring again."""
    from models.loading import load_base

    return load_base("embedded", cache_dir=TEST_CACHE, dtype=os.environ.get("EYLA_DTYPE", "auto"))


@pytest.fixture
def home_with_model(eyla_home: Path, embedded_base) -> Path:
    """A data dir whose model cache already holds the converted embedded model."""
    models = eyla_home / "cache" / "models"
    models.mkdir(parents=True)
    (models / embedded_base.cache_path.name).symlink_to(embedded_base.cache_path)
    # the session's dtype probe, so that a command run here loads the same dtype unmeasured;
    # a copy: a test that probes again (with the fixed speeds above) must not write its
    # result into the session's cache
    probes = TEST_CACHE / "dtype-probe"
    if probes.is_dir():
        shutil.copytree(probes, eyla_home / "cache" / "dtype-probe")
    return eyla_home
