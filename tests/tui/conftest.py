"""A temporary memory store with a hashing embedder for every app under test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.store import MemoryStore
from tests.fakes import HashingEmbedder


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def store(store_dir: Path) -> Iterator[MemoryStore]:
    with MemoryStore.open(store_dir, embedder=HashingEmbedder()) as opened:
        yield opened
