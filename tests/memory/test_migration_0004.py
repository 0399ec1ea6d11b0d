"""Revision 0004 on a store made at 0003: everything in it becomes the owner's; going back
down keeps the owner's data and drops the other users'."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from memory.config import MemoryConfig
from memory.db import MIGRATIONS_DIR, Database
from memory.schema import OWNER_ID, Base
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder

FACT = "my dog is called Pixel"


def _migrate(home: Path, revision: str, down: bool = False) -> None:
    """As `Database.migrate` does it: foreign keys off while SQLite copies tables."""
    db = Database(f"sqlite:///{home / 'eyla.db'}", busy_timeout_s=5)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with db.engine.connect() as connection:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        with connection.begin():
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)
    db.dispose()


def _store_at_0003(home: Path, config: MemoryConfig) -> int:
    """A store with a session, a message and a memory, migrated back down to 0003."""
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        chat = store.create_session("old")
        message = store.append_message(chat.id, "user", FACT)
        item = store.add(FACT, "user_said", session_id=chat.id, message_id=message)
        assert item is not None
    _migrate(home, "0003", down=True)
    return item.id


def test_a_0003_stores_data_becomes_the_owners(home: Path, config: MemoryConfig) -> None:
    item_id = _store_at_0003(home, config)
    with sqlite3.connect(home / "eyla.db") as raw:
        assert "users" not in {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
    raw.close()

    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        assert store.user_id == OWNER_ID
        [session] = store.list_sessions()
        assert (session.title, session.message_count) == ("old", 1)
        assert [h.id for h in store.search(FACT, k=1)] == [item_id]
        # the unique index now holds per user: the owner's twin is still refused ...
        assert store.add(FACT, "user_said") is None
        # ... while another user may keep the same words, and a new id follows the old
        alice, _ = store.add_user("alice")
        twin = store.for_user(alice.id).add(FACT, "user_said")
        assert twin is not None and twin.id > item_id

    db = Database(f"sqlite:///{home / 'eyla.db'}", busy_timeout_s=5)
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    db.dispose()


def test_downgrading_keeps_the_owners_data_only(home: Path, config: MemoryConfig) -> None:
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        store.add(FACT, "user_said")
        user, _ = store.add_user("alice")
        alice = store.for_user(user.id)
        alice.append_message(alice.create_session("hers").id, "user", "my PIN is 4321")
        alice.add("my PIN is 4321", "user_said")
    _migrate(home, "0003", down=True)
    with sqlite3.connect(home / "eyla.db") as raw:
        assert raw.execute("SELECT text FROM episodes").fetchall() == [(FACT,)]
        assert raw.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
        assert raw.execute("SELECT count(*) FROM messages").fetchone() == (0,)
    raw.close()
