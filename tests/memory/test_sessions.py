"""Sessions and the append-only transcript."""

from __future__ import annotations

import pytest

from eyla.errors import EylaError
from memory.store import MemoryStore


def test_transcript_keeps_order_and_roles(store: MemoryStore) -> None:
    chat = store.create_session("first chat")
    ids = [
        store.append_message(chat.id, "system", "You are Eyla."),
        store.append_message(chat.id, "user", "hello"),
        store.append_message(chat.id, "assistant", "hi, I am Eyla"),
    ]
    messages = store.messages(chat.id)
    assert [m.id for m in messages] == ids
    assert [(m.role, m.content) for m in messages] == [
        ("system", "You are Eyla."),
        ("user", "hello"),
        ("assistant", "hi, I am Eyla"),
    ]
    [info] = store.list_sessions()
    assert info.message_count == 3
    assert info.updated_at >= info.created_at


def test_bad_role_and_missing_session_are_refused(store: MemoryStore) -> None:
    chat = store.create_session()
    with pytest.raises(EylaError, match="role 'narrator'"):
        store.append_message(chat.id, "narrator", "once upon a time")
    with pytest.raises(EylaError, match="no session #77"):
        store.append_message(77, "user", "hello?")
    with pytest.raises(EylaError, match="no session #77"):
        store.messages(77)


def test_sessions_listed_most_recent_first_and_renamed(store: MemoryStore) -> None:
    older = store.create_session("older")
    newer = store.create_session("newer")
    store.append_message(older.id, "user", "bump")
    assert [s.id for s in store.list_sessions()] == [older.id, newer.id]
    store.rename_session(newer.id, "  renamed\tchat ")
    assert store.list_sessions()[0].title == "renamed chat"
    with pytest.raises(EylaError, match="longer than 200"):
        store.rename_session(newer.id, "x" * 201)


def test_delete_session_takes_transcript_keeps_memories(store: MemoryStore) -> None:
    chat = store.create_session("doomed")
    store.append_message(chat.id, "user", "my dog is called Pixel")
    episode = store.add("my dog is called Pixel", "user_said", session_id=chat.id)
    assert episode is not None

    store.delete_session(chat.id)

    assert store.list_sessions() == []
    assert store.stats().messages == 0
    with pytest.raises(EylaError, match=f"no session #{chat.id}"):
        store.messages(chat.id)
    kept = store.get(episode.id)
    assert kept.session_id is None
    assert store.search("dog", k=1)[0].id == episode.id
