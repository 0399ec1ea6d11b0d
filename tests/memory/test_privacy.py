"""Private by default: the data dir is the owner's alone, and so is every file the store
writes (database, write-ahead log, shared-memory index, index file, lock, exports)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from memory.config import MemoryConfig
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _permissive_umask():
    """The usual 022 umask: what the store makes must be private even so."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_a_new_store_is_private(home: Path, config: MemoryConfig, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        store.add("my passport number is in the drawer", "user_said")
        store.rebuild()  # writes the index file
        store.export_jsonl(export)
        files = ["eyla.db", "eyla.db-wal", "eyla.db-shm", "memory/episodes.faiss"]
        for name in files:
            assert _mode(home / name) == 0o600, name
        assert _mode(home / "memory" / "store.lock") == 0o600
    for directory in (home, home / "memory"):
        assert _mode(directory) == 0o700, directory
    assert _mode(export) == 0o600


def test_an_older_store_is_made_private_on_open(home: Path, config: MemoryConfig) -> None:
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        store.add("my passport number is in the drawer", "user_said")
    loose = [home, home / "memory", home / "eyla.db"]
    for path in loose:
        path.chmod(0o755 if path.is_dir() else 0o644)

    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        store.add("the spare key is under the mat", "user_said")
        assert _mode(home / "eyla.db-wal") == 0o600
        assert _mode(home / "eyla.db-shm") == 0o600

    assert [_mode(path) for path in loose] == [0o700, 0o700, 0o600]


def test_exporting_over_a_readable_file_makes_it_private(tmp_path: Path, store) -> None:
    export = tmp_path / "export.jsonl"
    export.write_text("old\n")
    export.chmod(0o644)
    store.add("my passport number is in the drawer", "user_said")

    store.export_jsonl(export)

    assert _mode(export) == 0o600
    assert "old" not in export.read_text()
