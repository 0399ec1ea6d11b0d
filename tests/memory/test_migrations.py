"""Opening the database: Alembic migrations, URLs, and errors a user can act on."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from eyla.errors import EylaError
from memory.config import MemoryConfig
from memory.db import Database
from memory.schema import Base
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder


def test_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'eyla.db'}", busy_timeout_s=5)
    db.migrate()
    db.migrate()  # a second run is a no-op
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert "alembic_version" in inspect(db.engine).get_table_names()
    db.dispose()


def test_any_sqlalchemy_url_is_accepted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    with MemoryStore.open(tmp_path / "home", MemoryConfig(db_url=url), HashingEmbedder()) as s:
        s.add("stored elsewhere", "user_said")
        assert s.stats().database == url
    assert (tmp_path / "elsewhere.db").exists()
    assert not (tmp_path / "home" / "eyla.db").exists()


def test_unopenable_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "eyla.db").mkdir()  # a directory where the database file should be
    with pytest.raises(EylaError, match="cannot open the memory database"):
        MemoryStore.open(tmp_path)
    with pytest.raises(EylaError, match="no database driver"):
        MemoryStore.open(tmp_path, MemoryConfig(db_url="postgresql+nosuchdriver://x/y"))
