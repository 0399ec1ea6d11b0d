from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.config import MemoryConfig, RetrievalWeights
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder
from tests.postgres import Server, missing_reason, start_server


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    """A throwaway PostgreSQL server for the whole run (tests/postgres.py); the tests that
    use it are skipped, saying why, where no PostgreSQL binaries are installed."""
    server = start_server()
    if server is None:
        pytest.skip(missing_reason())
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: Server) -> Iterator[str]:
    """A `postgresql+psycopg://` URL of an empty database of the test's own."""
    name = f"eyla_{uuid.uuid4().hex[:12]}"
    yield postgres_server.new_database(name)
    postgres_server.drop_database(name)
