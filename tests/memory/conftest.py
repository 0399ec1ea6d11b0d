from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.config import MemoryConfig, RetrievalWeights
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def config() -> MemoryConfig:
    """Relevance-only scoring, so tests can reason about the order of results."""
    return MemoryConfig(weights=RetrievalWeights(relevance=1.0, recency=0.0, importance=0.0))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "eyla-home"


@pytest.fixture
def store(home: Path, config: MemoryConfig) -> Iterator[MemoryStore]:
    with MemoryStore.open(home, config, HashingEmbedder()) as opened:
        yield opened
