"""Forget means gone: a forgotten memory's text and vector leave the database file, its
write-ahead log, the index file and exports; the message it came from goes on request."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np
import pytest
from typer.testing import CliRunner

from memory import cli
from memory.config import IndexKind, MemoryConfig
from memory.store import MemoryStore
from memory.vectors import pack, unit_rows

SECRET = "my locker code is ZQX-4471-PLUM"
KEPT = "my sister lives in Reykjavik since VLT-2093"


class DenseEmbedder:
    """A dense pseudo-random vector per text: every 16-byte run of its float32 (or bfloat16)
    bytes is unique to it, so finding none of them in a file shows the vector is gone."""

    name = "dense-fake"
    dim = 64

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([_rng(text).standard_normal(self.dim) for text in texts])


def _rng(text: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.blake2b(text.encode()).digest()[:8]))


def _stored_vector(text: str) -> bytes:
    """The float32 bytes the store keeps for `text` (and HNSW holds)."""
    embedder = DenseEmbedder()
    return pack(unit_rows(embedder.embed([text]), embedder.dim)[0])


def _flat_codes(text: str) -> bytes:
    """The bfloat16 codes a flat index holds for `text`."""
    embedder = DenseEmbedder()
    codes = faiss.IndexScalarQuantizer(
        embedder.dim, faiss.ScalarQuantizer.QT_bf16, faiss.METRIC_INNER_PRODUCT
    )
    codes.add(unit_rows(embedder.embed([text]), embedder.dim))
    return faiss.vector_to_array(codes.codes).tobytes()


def _runs(data: bytes, width: int = 16) -> list[bytes]:
    return [data[i : i + width] for i in range(0, len(data) - width + 1, width)]


def _database_bytes(home: Path) -> bytes:
    """The database file and its write-ahead log, as a disk reader would see them."""
    wal = home / "eyla.db-wal"
    return (home / "eyla.db").read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _index_bytes(home: Path) -> bytes:
    return (home / "memory" / "episodes.faiss").read_bytes()


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        (MemoryConfig(index="flat"), "flat"),
        (MemoryConfig(index="hnsw"), "hnsw"),
        (MemoryConfig(), "flat"),  # "auto", small
        (MemoryConfig(hnsw_from_items=2), "hnsw"),  # "auto", past its threshold
    ],
    ids=["flat", "hnsw", "auto-flat", "auto-hnsw"],
)
def test_forgotten_text_and_vector_leave_every_file(
    home: Path, config: MemoryConfig, kind: IndexKind
) -> None:
    in_index = _flat_codes if kind == "flat" else _stored_vector
    with MemoryStore.open(home, config, DenseEmbedder()) as store:
        chat = store.create_session("private")
        message = store.append_message(chat.id, "user", f"Remember: {SECRET}.")
        secret = store.add(SECRET, "user_said", session_id=chat.id, message_id=message)
        kept = store.add(KEPT, "user_said", session_id=chat.id)
        assert secret is not None and kept is not None
        store.rebuild()  # both vectors in the index file, and pages in the WAL
        assert store.stats().index_kind.startswith(kind)
        assert SECRET.encode() in _database_bytes(home)
        assert in_index(SECRET)[:16] in _index_bytes(home)

        store.forget(secret.id, with_message=True)

        database, index = _database_bytes(home), _index_bytes(home)
        assert b"ZQX-4471" not in database, "the text (or the message) is still in the file"
        assert not any(run in database for run in _runs(_stored_vector(SECRET)))
        assert not any(run in index for run in _runs(in_index(SECRET)))
        # the rest is intact
        assert KEPT.encode() in database
        assert _stored_vector(KEPT) in database
        assert in_index(KEPT) in index
        assert [hit.text for hit in store.search(KEPT, k=5)] == [KEPT]
        assert store.messages(chat.id) == []
        assert store.get(secret.id).text == ""
    assert b"ZQX-4471" not in _database_bytes(home), "nor after closing"


def test_without_the_flag_the_message_stays(store: MemoryStore) -> None:
    chat = store.create_session()
    message = store.append_message(chat.id, "user", SECRET)
    episode = store.add(SECRET, "user_said", session_id=chat.id, message_id=message)
    assert episode is not None and episode.message_id == message

    store.forget(episode.id)

    assert [m.content for m in store.messages(chat.id)] == [SECRET]
    forgotten = store.get(episode.id)
    assert forgotten.forgotten_at is not None and forgotten.text == ""
    # asked again later, forgetting still removes the message
    store.forget(episode.id, with_message=True)
    assert store.messages(chat.id) == []


def test_exports_never_hold_forgotten_items(tmp_path: Path, store: MemoryStore) -> None:
    episode = store.add(SECRET, "user_said")
    store.add(KEPT, "user_said")
    assert episode is not None
    store.forget(episode.id)
    path = tmp_path / "export.jsonl"

    assert store.export_jsonl(path) == 1
    assert "ZQX" not in path.read_text() and KEPT in path.read_text()


def test_an_hnsw_index_held_elsewhere_drops_the_vector_too(home: Path) -> None:
    """Another process's HNSW index must delete the vector as it catches up, or its next
    save would write the forgotten vector back to the file."""
    config = MemoryConfig(index="hnsw", index_save_every=1)
    with (
        MemoryStore.open(home, config, DenseEmbedder()) as other,
        MemoryStore.open(home, config, DenseEmbedder()) as mine,
    ):
        secret = mine.add(SECRET, "user_said")
        assert secret is not None
        assert other.search(SECRET, k=1)[0].id == secret.id  # `other` holds the vector
        mine.forget(secret.id)
        other.add(KEPT, "user_said")  # catches up, and saves (index_save_every=1)
        assert other.stats().index_size == 1
    assert not any(run in _index_bytes(home) for run in _runs(_stored_vector(SECRET)))


def test_forgetting_the_last_item_leaves_no_index_file_behind(home: Path) -> None:
    with MemoryStore.open(home, MemoryConfig(index="hnsw"), DenseEmbedder()) as store:
        episode = store.add(SECRET, "user_said")
        assert episode is not None
        store.rebuild()
        store.forget(episode.id)
        assert not (home / "memory" / "episodes.faiss").exists()


def test_delete_message_removes_one_message_and_unlinks_its_memory(store: MemoryStore) -> None:
    chat = store.create_session()
    first = store.append_message(chat.id, "user", "my cat is called Biscuit")
    store.append_message(chat.id, "assistant", "Biscuit is a fine name.")
    episode = store.add("my cat is called Biscuit", "user_said", message_id=first)
    assert episode is not None

    store.delete_message(first)

    assert [m.content for m in store.messages(chat.id)] == ["Biscuit is a fine name."]
    assert store.get(episode.id).message_id is None
    assert store.get(episode.id).text == "my cat is called Biscuit"


@pytest.fixture
def cli_store(home: Path, config: MemoryConfig, monkeypatch: pytest.MonkeyPatch):
    def open_store() -> MemoryStore:
        return MemoryStore.open(home, config, DenseEmbedder())

    monkeypatch.setattr(cli, "open_store", open_store)
    with open_store() as store:
        chat = store.create_session()
        message = store.append_message(chat.id, "user", SECRET)
        episode = store.add(SECRET, "user_said", message_id=message)
        assert episode is not None
    return open_store, episode.id, chat.id


def _forget(*args: str, terminal: bool, answer: str = "", monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(cli, "_stdin_is_terminal", lambda: terminal)
    result = CliRunner().invoke(cli.app, ["forget", *args], input=answer)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    ("flags", "terminal", "answer", "asked", "message_deleted"),
    [
        ([], True, "y\n", True, True),
        ([], True, "\n", True, False),  # the default is No
        ([], False, "", False, False),  # a script is never asked, and keeps the message
        (["--with-message"], False, "", False, True),
        (["--keep-message"], True, "", False, False),
    ],
)
def test_cli_forget_offers_to_delete_the_message(
    cli_store, monkeypatch, flags, terminal, answer, asked, message_deleted
) -> None:
    open_store, episode_id, chat_id = cli_store

    output = _forget(
        str(episode_id), *flags, terminal=terminal, answer=answer, monkeypatch=monkeypatch
    )

    assert ("Also delete the message it came from? [y/N]" in output) == asked
    assert f"forgot #{episode_id}" in output
    with open_store() as store:
        assert store.get(episode_id).text == ""
        assert (store.messages(chat_id) == []) == message_deleted


def test_cli_forget_does_not_ask_about_a_memory_without_a_message(
    home: Path, config: MemoryConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "open_store", lambda: MemoryStore.open(home, config, DenseEmbedder()))
    with cli.open_store() as store:
        episode = store.add(KEPT, "user_said")
        assert episode is not None

    output = _forget(str(episode.id), terminal=True, monkeypatch=monkeypatch)

    assert "Also delete" not in output and f"forgot #{episode.id}" in output
