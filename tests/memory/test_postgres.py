"""The memory store on a real PostgreSQL server (started by the `postgres_server` fixture):
migrations, sessions, memories with provenance and audit, forget, export and import, and
several stores writing to one database at once."""

from __future__ import annotations

import json
import logging
import socket
import threading
import traceback
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, make_url, select, text
from sqlalchemy.exc import OperationalError

from eyla.errors import EylaError
from memory.config import MemoryConfig, RetrievalWeights
from memory.db import MIGRATIONS_DIR, Database
from memory.schema import Base, EpisodeRow, HistoryRow
from memory.store import MemoryStore
from memory.vectors import pack, unit_rows
from tests.fakes import HashingEmbedder
from tests.memory.test_forget import DenseEmbedder
from tests.memory.writer import item_text, shared_text
from tests.postgres import Server

SECRET = "my locker code is ZQX-4471-PLUM"
KEPT = "my sister lives in Reykjavik since VLT-2093"
PASSWORD = "hunter2-Secret"


def _config(url: str, **changes: object) -> MemoryConfig:
    """Relevance-only scoring, as the `config` fixture, on the database at `url`."""
    weights = RetrievalWeights(relevance=1.0, recency=0.0, importance=0.0)
    return MemoryConfig(db_url=url, weights=weights, **changes)


def _open(home: Path, url: str, **changes: object) -> MemoryStore:
    return MemoryStore.open(home, _config(url, **changes), HashingEmbedder())


def _alembic(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def test_migrations_reach_head_match_the_models_and_go_back_down(postgres_url: str) -> None:
    db = Database(postgres_url, busy_timeout_s=5)
    db.migrate()
    db.migrate()  # a second run is a no-op
    head = ScriptDirectory.from_config(_alembic(None)).get_current_head()
    with db.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    with db.engine.begin() as connection:
        command.downgrade(_alembic(connection), "base")
    with db.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() is None
    db.migrate()
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    db.dispose()


def test_a_store_made_at_0001_migrates_with_its_rows(tmp_path: Path, postgres_url: str) -> None:
    db = Database(postgres_url, busy_timeout_s=5)
    with db.engine.begin() as connection:
        command.upgrade(_alembic(connection), "0001")
        vector = pack(unit_rows(HashingEmbedder().embed(["my dog is called Pixel"]), 1024)[0])
        connection.execute(
            text(
                "INSERT INTO sessions (title, created_at, updated_at) VALUES ('old', now(), now())"
            )
        )
        connection.execute(
            text(
                "INSERT INTO episodes (text, content_hash, provenance, session_id, importance, "
                "created_at, last_accessed_at, embedding, embedding_model, embedding_dim) "
                "VALUES ('my dog is called Pixel', 'h', 'user_said', 1, 0.5, now(), now(), "
                ":vector, 'fake-bow', 1024)"
            ),
            {"vector": vector},
        )
    db.dispose()

    with _open(tmp_path, postgres_url) as store:
        [hit] = store.search("what is my dog called", k=1)
        assert (hit.text, hit.session_id) == ("my dog is called Pixel", 1)
        claim = store.add("your name is Max", "about_eyla")  # 0002's provenance
        assert claim is not None and claim.id == 2, "the id sequence carried on"
        assert [s.title for s in store.list_sessions()] == ["old"]


def test_sessions_memories_provenance_and_audit(tmp_path: Path, postgres_url: str) -> None:
    with _open(tmp_path, postgres_url) as store:
        chat = store.create_session("pets")
        said = store.append_message(chat.id, "user", "My dog is called Pixel.")
        store.append_message(chat.id, "assistant", "Noted: Pixel.")
        store.rename_session(chat.id, "my pets")
        assert [m.content for m in store.messages(chat.id, last=1)] == ["Noted: Pixel."]
        [info] = store.list_sessions()
        assert (info.title, info.message_count) == ("my pets", 2)

        dog = store.add("my dog is called Pixel", "user_said", session_id=chat.id, message_id=said)
        assert dog is not None and dog.message_id == said
        assert store.add("My dog is called PIXEL", "user_said", importance=0.9) is None
        assert store.get(dog.id).importance == 0.9, "the duplicate raised the stored one"
        claim = store.add("your name is Max now", "about_eyla")
        assert claim is not None

        assert [h.id for h in store.search("your name is Max now", k=5)] == [dog.id]
        quarantined = store.search("your name is Max now", provenance=["about_eyla"])
        assert [h.id for h in quarantined] == [claim.id]

        store.delete_session(chat.id)  # the transcript goes (ON DELETE CASCADE)
        assert store.list_sessions() == []
        assert store.get(dog.id).session_id is None
        assert store.stats().messages == 0

    db = Database(postgres_url, busy_timeout_s=5)
    with db.reading() as session:
        history = session.execute(select(HistoryRow).order_by(HistoryRow.id)).scalars().all()
    db.dispose()
    audit = [(row.episode_id, row.action, json.loads(row.detail)) for row in history]
    assert audit == [
        (dog.id, "add", {"provenance": "user_said", "session_id": chat.id, "importance": 0.5}),
        (dog.id, "update", {"importance": [0.5, 0.9]}),
        (claim.id, "add", {"provenance": "about_eyla", "session_id": None, "importance": 0.5}),
        (dog.id, "update", {"session_id": [chat.id, None]}),
    ]


def _holding(server: Server, database: str, needle: bytes) -> list[str]:
    """The database's files that hold `needle` once the server has written its buffers."""
    with server.connect(database) as connection:
        connection.execute("CHECKPOINT")
    return [path.name for path in server.database_files(database) if needle in path.read_bytes()]


def test_forget_leaves_no_copy_in_the_tables_files(
    tmp_path: Path, postgres_server: Server, postgres_url: str
) -> None:
    database = make_url(postgres_url).database
    assert database is not None
    vector = pack(unit_rows(DenseEmbedder().embed([SECRET]), DenseEmbedder.dim)[0])
    config = _config(postgres_url)
    with MemoryStore.open(tmp_path, config, DenseEmbedder()) as store:
        chat = store.create_session("private")
        kept = store.add(KEPT, "user_said", session_id=chat.id)
        # the secret's rows come last in their pages, where plain VACUUM leaves their bytes
        message = store.append_message(chat.id, "user", f"Remember: {SECRET}.")
        secret = store.add(SECRET, "user_said", session_id=chat.id, message_id=message)
        assert secret is not None and kept is not None
        assert len(_holding(postgres_server, database, b"ZQX-4471")) == 2  # episode, message
        assert _holding(postgres_server, database, vector[:16])

        store.forget(secret.id, with_message=True)

        assert _holding(postgres_server, database, b"ZQX-4471") == []
        assert _holding(postgres_server, database, vector[:16]) == []
        assert _holding(postgres_server, database, KEPT.encode())
        assert store.get(secret.id).text == ""
        assert store.messages(chat.id) == []
        assert [hit.text for hit in store.search(KEPT, k=5)] == [KEPT]


def test_users_are_apart_and_a_removed_user_leaves_nothing_in_the_files(
    tmp_path: Path, postgres_server: Server, postgres_url: str
) -> None:
    database = make_url(postgres_url).database
    assert database is not None
    with MemoryStore.open(tmp_path, _config(postgres_url), HashingEmbedder()) as store:
        user, key = store.add_user("alice")
        assert store.user_for_key(key) == user.id
        alice = store.for_user(user.id)
        chat = alice.create_session("hers")
        alice.append_message(chat.id, "user", f"Remember: {SECRET}.")
        assert alice.add(SECRET, "user_said", session_id=chat.id) is not None
        store.add(KEPT, "user_said")
        assert [h.text for h in store.search(SECRET, k=5)] == [KEPT]
        assert [h.text for h in alice.search(SECRET, k=5)] == [SECRET]
        assert _holding(postgres_server, database, b"ZQX-4471")

        assert store.remove_user("alice") == 1

        assert store.user_for_key(key) is None
        assert _holding(postgres_server, database, b"ZQX-4471") == []
        assert [h.text for h in store.search(KEPT, k=5)] == [KEPT]


def test_a_forget_behind_a_long_reader_warns_instead_of_hanging(
    tmp_path: Path, postgres_server: Server, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = make_url(postgres_url).database
    assert database is not None
    with _open(tmp_path, postgres_url, busy_timeout_s=0.5) as store:
        item = store.add(SECRET, "user_said")
        assert item is not None
        with postgres_server.connect(database) as reader, reader.transaction():
            reader.execute("SELECT count(*) FROM episodes")  # holds the table till it ends
            with caplog.at_level(logging.WARNING):
                store.forget(item.id)
        assert "stay in their free space" in caplog.text
        assert store.get(item.id).text == ""


def test_export_and_import_round_trip(
    tmp_path: Path, postgres_server: Server, postgres_url: str
) -> None:
    exported, again = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    with _open(tmp_path / "a", postgres_url) as source:
        chat = source.create_session("about pets")
        source.add("my dog is called Pixel", "user_said", session_id=chat.id, importance=0.9)
        source.add("the user says your name is Max", "about_eyla")
        forgotten = source.add("an outdated fact", "agent_said")
        assert forgotten is not None
        source.forget(forgotten.id)
        assert source.export_jsonl(exported) == 2

    target_url = postgres_server.new_database(f"{make_url(postgres_url).database}_import")
    with _open(tmp_path / "b", target_url) as target:
        report = target.import_jsonl(exported)
        assert (report.added, report.duplicates) == (2, 0)
        assert [s.title for s in target.list_sessions()] == ["about pets"]
        target.export_jsonl(again)
        assert target.import_jsonl(exported).duplicates == 2
    assert again.read_text() == exported.read_text()


def test_two_stores_on_one_database_see_each_others_changes(
    tmp_path: Path, postgres_url: str
) -> None:
    with _open(tmp_path / "a", postgres_url) as a, _open(tmp_path / "b", postgres_url) as b:
        fact = a.add("my cat is called Biscuit", "user_said")
        assert fact is not None
        assert [hit.id for hit in b.search("cat called Biscuit", k=1)] == [fact.id]
        assert b.add("My cat is called Biscuit", "user_said") is None, "a's row deduplicates"
        b.forget(fact.id)
        assert a.search("cat called Biscuit") == []
        assert a.stats().index_size == b.stats().index_size == 0


def test_writers_take_turns_and_readers_do_not_wait(postgres_url: str) -> None:
    db = Database(postgres_url, busy_timeout_s=5)
    db.migrate()
    events: list[str] = []

    def second_writer() -> None:
        with db.writing() as session:
            session.execute(text("SELECT 1"))
            events.append("second writer in")

    with db.writing() as first:
        first.execute(text("SELECT 1"))  # the transaction begins: the lock is taken
        waiting = threading.Thread(target=second_writer)
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive(), "the second writer got in while the first held the lock"
        with db.reading() as reader:
            assert reader.scalar(text("SELECT 1")) == 1
        events.append("first writer commits")
    waiting.join(timeout=5)
    assert events == ["first writer commits", "second writer in"]

    with db.reading() as reader:
        assert reader.scalar(text("SHOW lock_timeout")) == "5s"  # memory.busy_timeout_s
    db.dispose()


def test_a_writer_gives_up_after_the_busy_timeout(postgres_url: str) -> None:
    db = Database(postgres_url, busy_timeout_s=0.3)
    db.migrate()
    with db.writing() as first:
        first.execute(text("SELECT 1"))
        with pytest.raises(OperationalError) as raised, db.writing() as second:
            second.execute(text("SELECT 1"))
    assert isinstance(raised.value.orig, psycopg.errors.LockNotAvailable)
    db.dispose()


def test_a_reader_sees_one_snapshot(tmp_path: Path, postgres_url: str) -> None:
    db = Database(postgres_url, busy_timeout_s=5)
    with _open(tmp_path, postgres_url) as store:
        store.add("first fact", "user_said")
        with db.reading() as reader:
            count = select(func.count()).select_from(EpisodeRow)
            assert reader.scalar(count) == 1
            store.add("second fact", "user_said")  # committed meanwhile
            assert reader.scalar(count) == 1
    db.dispose()


def test_concurrent_writers_lose_nothing_and_a_reader_skips_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    writers, count = 4, 40
    prefixes = [f"writer{w}" for w in range(writers)]
    expected = {item_text(prefix, i) for prefix in prefixes for i in range(count)}
    expected |= {shared_text(i) for i in range(0, count, 3)}
    stores = [_open(tmp_path / prefix, postgres_url) for prefix in prefixes]
    reader = _open(tmp_path / "reader", postgres_url)
    start = threading.Barrier(writers + 1)
    failures: list[BaseException] = []

    def write(store: MemoryStore, prefix: str) -> None:
        try:
            start.wait()
            for i in range(count):
                store.add(item_text(prefix, i), "user_said")
                if i % 3 == 0:
                    store.add(shared_text(i), "user_said")  # every writer tells it
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [
        threading.Thread(target=write, args=pair) for pair in zip(stores, prefixes, strict=True)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    while any(thread.is_alive() for thread in threads):
        reader.stats()  # replays the history while the writers commit
    assert failures == []

    stored = sorted(episode.text for episode in reader.list(limit=10_000))
    assert stored == sorted(expected), "an item was lost or stored twice"
    stats = reader.stats()
    assert stats.index_size == stats.episodes == len(expected), "the reader skipped a change"
    for store in (*stores, reader):
        store.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://eyla:{PASSWORD}@localhost:notaport/eyla",
        f"postgresql+psycopg://eyla:{PASSWORD}@[::1/eyla",
        f"not a url, eyla:{PASSWORD}",
        f"postgresql+nosuchdriver://eyla:{PASSWORD}@localhost/eyla",
        f"postgresql+psycopg://eyla:{PASSWORD}@127.0.0.1:{_closed_port()}/eyla",
        f"postgresql+psycopg://eyla@127.0.0.1:{_closed_port()}/eyla?password={PASSWORD}",
    ],
    ids=["bad-port", "bad-host", "not-a-url", "no-driver", "refused", "refused-query"],
)
def test_database_errors_never_show_the_password(tmp_path: Path, url: str) -> None:
    with pytest.raises(EylaError) as raised:
        MemoryStore.open(tmp_path, MemoryConfig(db_url=url, busy_timeout_s=2))
    shown = "".join(traceback.format_exception(raised.value))  # with every chained cause
    assert PASSWORD not in shown
    assert "database" in str(raised.value)


def test_the_shown_url_hides_passwords() -> None:
    url = f"postgresql+psycopg://eyla:{PASSWORD}@db.example/eyla?sslpassword={PASSWORD}"
    db = Database(f"{url}&password={PASSWORD}&sslmode=require", busy_timeout_s=5)
    assert db.display_url == "postgresql+psycopg://eyla:***@db.example/eyla?sslmode=require"
    db.dispose()
