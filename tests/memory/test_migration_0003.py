"""Revision 0003 on a store made at 0002: `session_states` goes with its blobs, the
sessions, transcript and memories stay; going back down recreates the table empty."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from memory.config import MemoryConfig
from memory.db import MIGRATIONS_DIR, Database
from memory.schema import Base
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder

FACT = "my dog is called Pixel"
_TIME = "2026-12-01 12:00:00.000000"  # as SQLAlchemy stores a UTC time in SQLite


def _database(home: Path) -> Database:
    return Database(f"sqlite:///{home / 'eyla.db'}", busy_timeout_s=5)


def _migrate(home: Path, revision: str, down: bool = False) -> None:
    db = _database(home)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
    db.dispose()


def _tables(home: Path) -> set[str]:
    db = _database(home)
    names = set(inspect(db.engine).get_table_names())
    db.dispose()
    return names


def _store_at_0002(home: Path) -> None:
    """A database as version 0002 left it, with a session whose SSM state was saved."""
    home.mkdir(parents=True, exist_ok=True)
    _migrate(home, "0002")
    with sqlite3.connect(home / "eyla.db") as raw:
        raw.execute(
            "INSERT INTO sessions (id, title, created_at, updated_at) VALUES (1, 'old', ?, ?)",
            (_TIME, _TIME),
        )
        raw.execute(
            "INSERT INTO messages (id, session_id, role, content, created_at) "
            "VALUES (1, 1, 'user', ?, ?)",
            (FACT, _TIME),
        )
        raw.execute(
            "INSERT INTO session_states (session_id, state, updated_at) VALUES (1, ?, ?)",
            (b"\x00ssm", _TIME),
        )
    raw.close()


def test_a_0002_store_loses_its_session_states_and_keeps_the_rest(
    home: Path, config: MemoryConfig
) -> None:
    _store_at_0002(home)
    assert "session_states" in _tables(home)

    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        [session] = store.list_sessions()
        assert (session.id, session.title, session.message_count) == (1, "old", 1)
        assert [m.content for m in store.messages(1)] == [FACT]
        store.delete_session(1)  # no table left to cascade into

    assert "session_states" not in _tables(home)
    db = _database(home)
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    db.dispose()


def test_downgrading_recreates_the_table_empty_and_upgrading_drops_it_again(
    home: Path, config: MemoryConfig
) -> None:
    _store_at_0002(home)
    _migrate(home, "0003")
    _migrate(home, "0002", down=True)
    with sqlite3.connect(home / "eyla.db") as raw:
        assert raw.execute("SELECT count(*) FROM session_states").fetchone() == (0,)
        # as 0001 made it: the state belongs to a session and goes with it
        raw.execute("PRAGMA foreign_keys = ON")
        raw.execute("INSERT INTO session_states VALUES (1, x'00', ?)", (_TIME,))
        raw.execute("DELETE FROM sessions WHERE id = 1")
        assert raw.execute("SELECT count(*) FROM session_states").fetchone() == (0,)
    raw.close()
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        assert store.list_sessions() == []
    assert "session_states" not in _tables(home)
