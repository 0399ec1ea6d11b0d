"""Revision 0002 on a store made at 0001: the `about_eyla` provenance and
`episodes.message_id` arrive, and everything stored before is kept as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from memory.config import MemoryConfig
from memory.db import MIGRATIONS_DIR, Database
from memory.schema import Base
from memory.store import MemoryStore
from memory.vectors import pack, unit_rows
from tests.fakes import HashingEmbedder

OLD_FACT = "my dog is called Pixel"
_TIME = "2026-11-30 12:00:00.000000"  # as SQLAlchemy stores a UTC time in SQLite


def _store_at_0001(home: Path) -> None:
    """A database as version 0001 left it: one session, message, item and its history."""
    home.mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{home / 'eyla.db'}", busy_timeout_s=5)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    db.dispose()
    embedder = HashingEmbedder()
    vector = pack(unit_rows(embedder.embed([OLD_FACT]), embedder.dim)[0])
    with sqlite3.connect(home / "eyla.db") as raw:
        raw.execute(
            "INSERT INTO sessions (id, title, created_at, updated_at) VALUES (1, 'old', ?, ?)",
            (_TIME, _TIME),
        )
        raw.execute(
            "INSERT INTO messages (id, session_id, role, content, created_at) "
            "VALUES (1, 1, 'user', ?, ?)",
            (OLD_FACT, _TIME),
        )
        raw.execute(
            "INSERT INTO episodes (id, text, content_hash, provenance, session_id, importance, "
            "created_at, last_accessed_at, embedding, embedding_model, embedding_dim) "
            "VALUES (7, ?, 'h', 'user_said', 1, 0.5, ?, ?, ?, ?, ?)",
            (OLD_FACT, _TIME, _TIME, vector, embedder.name, embedder.dim),
        )
        raw.execute(
            "INSERT INTO history (episode_id, action, detail, at) VALUES (7, 'add', '{}', ?)",
            (_TIME,),
        )
    raw.close()


def test_a_0001_store_migrates_and_keeps_its_items(home: Path, config: MemoryConfig) -> None:
    _store_at_0001(home)

    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        [hit] = store.search("what is my dog called", k=1)
        assert (hit.id, hit.text, hit.session_id, hit.message_id) == (7, OLD_FACT, 1, None)
        claim = store.add("your name is Max", "about_eyla")
        linked = store.add("my cat is Biscuit", "user_said", session_id=1, message_id=1)
        assert claim is not None and linked is not None
        assert claim.id > 7, "AUTOINCREMENT survived the table copy"
        assert store.get(linked.id).message_id == 1
        store.delete_message(1)
        assert store.get(linked.id).message_id is None  # ON DELETE SET NULL

    db = Database(f"sqlite:///{home / 'eyla.db'}", busy_timeout_s=5)
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        schema = dict(
            connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'episodes'"
            ).all()
        )
    db.dispose()
    assert "AUTOINCREMENT" in schema["episodes"]
    assert "'about_eyla'" in schema["episodes"]
    assert "WHERE forgotten_at IS NULL" in schema["ux_episodes_live_hash"]
    assert "message_id" in schema["ix_episodes_message_id"]


def test_the_migrated_check_still_refuses_unknown_provenances(home: Path) -> None:
    _store_at_0001(home)
    Database(f"sqlite:///{home / 'eyla.db'}", busy_timeout_s=5).migrate()
    with sqlite3.connect(home / "eyla.db") as raw, pytest.raises(sqlite3.IntegrityError):
        raw.execute("UPDATE episodes SET provenance = 'gossip' WHERE id = 7")
    raw.close()
