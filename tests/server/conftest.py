from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eyla.agent import Agent
from eyla.config import Settings
from eyla.identity import load_identity
from memory.store import MemoryStore
from models.eyla_model import EylaModel
from tests.fakes import HashingEmbedder
from tests.server.helpers import MakeAgent


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    with MemoryStore.open(tmp_path / "home", embedder=HashingEmbedder()) as opened:
        yield opened


@pytest.fixture
def make_agent(store: MemoryStore) -> MakeAgent:
    """An agent over `model` and the test's store, with the default settings."""

    def make(model: EylaModel) -> Agent:
        return Agent(model, store, load_identity(), Settings())

    return make
