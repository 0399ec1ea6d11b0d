"""Users: keys stored as digests, and every read, search and write scoped to one user."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from eyla.errors import EylaError
from memory.config import MemoryConfig
from memory.schema import OWNER_ID
from memory.store import MemoryStore
from memory.users import KEY_PREFIX, key_hash
from tests.fakes import HashingEmbedder

PIN = "my bank PIN is 4321"


@pytest.fixture
def alice(store: MemoryStore) -> MemoryStore:
    user, _key = store.add_user("alice")
    return store.for_user(user.id)


@pytest.fixture
def bob(store: MemoryStore) -> MemoryStore:
    user, _key = store.add_user("bob")
    return store.for_user(user.id)


def _database_bytes(home: Path) -> bytes:
    wal = home / "eyla.db-wal"
    return (home / "eyla.db").read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_a_key_is_shown_once_and_stored_only_as_its_digest(home: Path, store: MemoryStore) -> None:
    user, key = store.add_user("alice")
    assert key.startswith(KEY_PREFIX) and len(key) > 40
    assert store.user_for_key(key) == user.id
    assert store.user_for_key(key + "x") is None
    assert store.user_for_key("") is None
    assert key.encode() not in _database_bytes(home)
    with sqlite3.connect(home / "eyla.db") as raw:
        stored = raw.execute("SELECT key_hash FROM users WHERE name = 'alice'").fetchone()
    assert stored == (key_hash(key),)
    assert [u.name for u in store.list_users()] == ["owner", "alice"]
    assert store.any_user_key()


def test_two_users_get_different_keys(store: MemoryStore) -> None:
    (_, first), (_, second) = store.add_user("a"), store.add_user("b")
    assert first != second


@pytest.mark.parametrize("name", ["", "owner", "-x", "a b", "a" * 65, "ålice", "a/b"])
def test_bad_or_taken_names_are_refused(store: MemoryStore, name: str) -> None:
    with pytest.raises(EylaError):
        store.add_user(name)


def test_a_new_store_has_only_the_owner_and_no_key(store: MemoryStore) -> None:
    assert [(u.id, u.name, u.has_key) for u in store.list_users()] == [(OWNER_ID, "owner", False)]
    assert not store.any_user_key()
    assert store.user_id == OWNER_ID


def test_search_recalls_only_the_users_own_memories(
    store: MemoryStore, alice: MemoryStore, bob: MemoryStore
) -> None:
    alice.add(PIN, "user_said")
    bob.add("my bank is the one on the corner", "user_said")
    assert [h.text for h in alice.search("bank PIN", k=8)] == [PIN]
    assert PIN not in [h.text for h in bob.search("bank PIN", k=8)]
    assert PIN not in [h.text for h in store.search("bank PIN", k=8)]
    assert PIN not in [h.text for h in bob.search("bank PIN", k=8, provenance=["user_said"])]
    assert [e.text for e in bob.list()] == ["my bank is the one on the corner"]
    assert store.list() == []


def test_the_same_fact_told_by_two_users_is_two_memories(
    alice: MemoryStore, bob: MemoryStore
) -> None:
    first, second = alice.add(PIN, "user_said"), bob.add(PIN, "user_said")
    assert first is not None and second is not None and first.id != second.id
    alice.forget(first.id)
    assert [h.text for h in bob.search(PIN, k=1)] == [PIN]


def test_another_users_sessions_and_memories_read_as_absent(
    alice: MemoryStore, bob: MemoryStore
) -> None:
    chat = alice.create_session("alice's")
    message = alice.append_message(chat.id, "user", PIN)
    item = alice.add(PIN, "user_said", session_id=chat.id, message_id=message)
    assert item is not None
    for attempt in (
        lambda: bob.messages(chat.id),
        lambda: bob.append_message(chat.id, "assistant", "forged"),
        lambda: bob.rename_session(chat.id, "mine now"),
        lambda: bob.delete_session(chat.id),
        lambda: bob.delete_message(message),
        lambda: bob.get(item.id),
        lambda: bob.forget(item.id),
        lambda: bob.add("planted", "user_said", session_id=chat.id),
        lambda: bob.add("planted", "user_said", message_id=message),
    ):
        with pytest.raises(EylaError, match=r"no (session|message|memory)"):
            attempt()
    assert bob.list_sessions() == []
    assert [(m.role, m.content) for m in alice.messages(chat.id)] == [("user", PIN)]
    assert [s.title for s in alice.list_sessions()] == ["alice's"]
    assert alice.get(item.id).text == PIN
    assert bob.stats().episodes == 0 and bob.stats().messages == 0
    assert alice.stats().episodes == 1 and alice.stats().messages == 1


def test_exports_hold_only_the_users_memories(
    tmp_path: Path, alice: MemoryStore, bob: MemoryStore
) -> None:
    alice.add(PIN, "user_said")
    bob.add("my dog is Rex", "user_said")
    out = tmp_path / "bob.jsonl"
    assert bob.export_jsonl(out) == 1
    assert PIN not in out.read_text()
    assert alice.import_jsonl(out).added == 1
    assert sorted(e.text for e in alice.list()) == sorted(["my dog is Rex", PIN])
    assert [e.text for e in bob.list()] == ["my dog is Rex"]


def test_removing_a_user_erases_their_data_and_revokes_their_key(home: Path) -> None:
    with MemoryStore.open(home, MemoryConfig(), HashingEmbedder()) as store:
        user, key = store.add_user("alice")
        alice = store.for_user(user.id)
        chat = alice.create_session()
        alice.append_message(chat.id, "user", "Remember: ZQX-4471 opens the shed.")
        alice.add("ZQX-4471 opens the shed", "user_said", session_id=chat.id)
        store.add("my dog is Rex", "user_said")

        assert store.remove_user("alice") == 1

        assert store.user_for_key(key) is None
        assert b"ZQX-4471" not in _database_bytes(home)
        assert [h.text for h in store.search("shed", k=8)] == ["my dog is Rex"]
        with pytest.raises(EylaError, match="no user"):
            store.for_user(user.id)
        again, _ = store.add_user("alice")  # the name is free again, with nothing in it
        assert again.id != user.id and store.for_user(again.id).list() == []
    with pytest.raises(EylaError, match="owner"), MemoryStore.open(home) as store:
        store.remove_user("owner")


def test_nothing_is_written_for_a_removed_user_through_a_view_made_before(
    home: Path, store: MemoryStore
) -> None:
    user, _ = store.add_user("alice")
    alice = store.for_user(user.id)
    chat = alice.create_session("hers")
    store.remove_user("alice")
    for attempt in (
        lambda: alice.create_session("again"),
        lambda: alice.add("my PIN is 4321", "user_said"),
        lambda: alice.append_message(chat.id, "user", "my PIN is 4321"),
    ):
        with pytest.raises(EylaError, match=r"no (user|session)"):
            attempt()
    assert b"4321" not in _database_bytes(home)
    with sqlite3.connect(home / "eyla.db") as raw:  # the name goes with the user
        assert raw.execute("SELECT name FROM users WHERE id = ?", (user.id,)).fetchone() == ("",)
    raw.close()


def test_removing_an_unknown_user_is_an_error(store: MemoryStore) -> None:
    with pytest.raises(EylaError, match="no user 'nobody'"):
        store.remove_user("nobody")
