"""Shared fixtures. Every test gets its own data dir; the embedded model's converted
weights are cached once per machine under `.cache/test-models` (or $EYLA_TEST_CACHE)."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def embedded_base():
    """SmolLM2-135M-Instruct, converted once and shared by the whole session, in the dtype
    Eyla's settings name (`EYLA_DTYPE=float32 make test` runs the suite in float32)."""
    from models.loading import load_base

    return load_base("embedded", cache_dir=TEST_CACHE, dtype=os.environ.get("EYLA_DTYPE", "auto"))


@pytest.fixture
def home_with_model(eyla_home: Path, embedded_base) -> Path:
    """A data dir whose model cache already holds the converted embedded model."""
    models = eyla_home / "cache" / "models"
    models.mkdir(parents=True)
    (models / embedded_base.cache_path.name).symlink_to(embedded_base.cache_path)
    return eyla_home
