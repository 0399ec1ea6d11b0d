"""Crashes, damaged index files and concurrent writers: nothing committed is lost or doubled."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from memory.config import MemoryConfig
from memory.index import VectorIndex
from memory.index_file import IndexHeader, read_index_file, write_index_file
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder
from tests.memory.writer import CONFIG, item_text, shared_text

REPO = Path(__file__).resolve().parents[2]


def _writer(home: Path, prefix: str, count: int, shared: bool = False) -> subprocess.Popen[str]:
    """A writer process, opened and waiting for `_go`."""
    args = [sys.executable, "-m", "tests.memory.writer", str(home), prefix, str(count)]
    writer = subprocess.Popen(
        [*args, *(["shared"] if shared else [])],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert writer.stdout is not None
    assert writer.stdout.readline() == "ready\n", writer.stderr and writer.stderr.read()
    return writer


def _go(writer: subprocess.Popen[str]) -> None:
    assert writer.stdin is not None
    writer.stdin.write("go\n")
    writer.stdin.flush()


def _assert_consistent(store: MemoryStore, texts: set[str]) -> None:
    """Every text stored once, in the index once, and found as the best hit."""
    stored = store.list(limit=1_000_000)
    assert len({e.text for e in stored}) == len(stored), "a duplicated item"
    assert texts <= {e.text for e in stored}, "a committed item was lost"
    stats = store.stats()
    assert stats.index_size == stats.episodes == len(stored)
    for text in texts:
        # The fake embedder hashes words into buckets, so rarely two texts tie at 1.0.
        best = [hit.text for hit in store.search(text, k=5) if hit.relevance > 0.999]
        assert text in best


def test_sigkill_mid_stream_loses_and_doubles_nothing(home: Path) -> None:
    rng = random.Random(1234)
    committed: set[str] = set()
    for round_ in range(3):
        writer = _writer(home, f"round{round_}", 10_000)
        _go(writer)
        assert writer.stdout is not None
        for _ in range(rng.randint(15, 60)):
            line = writer.stdout.readline()
            assert line.startswith("committed "), writer.stderr.read() if writer.stderr else ""
            committed.add(line.removeprefix("committed ").rstrip("\n"))
        writer.send_signal(signal.SIGKILL)  # the writer is still adding and saving
        writer.wait()
        # Items committed after the last line we read are fine too; none may be missing.
        with MemoryStore.open(home, CONFIG, HashingEmbedder()) as store:
            _assert_consistent(store, committed)


def test_two_writers_at_once_lose_nothing(home: Path, caplog: pytest.LogCaptureFixture) -> None:
    count = 150
    writers = [_writer(home, prefix, count, shared=True) for prefix in ("left", "right")]
    for writer in writers:
        _go(writer)
    outputs = [writer.communicate(timeout=240) for writer in writers]
    for writer, (_, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err

    expected = {item_text(p, i) for p in ("left", "right") for i in range(count)}
    expected |= {shared_text(i) for i in range(0, count, 3)}
    with caplog.at_level(logging.WARNING), MemoryStore.open(home, CONFIG, HashingEmbedder()) as s:
        _assert_consistent(s, expected)
        assert s.stats().episodes == len(expected)  # shared facts stored once
    assert not caplog.records, "the index file saved by the writers should be valid"


def _filled(home: Path, config: MemoryConfig, n: int = 50) -> set[str]:
    texts = {f"fact {i} about the number {i * 31 % 97}" for i in range(n)}
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        for text in sorted(texts):
            store.add(text, "user_said")
    return texts


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-100:] = bytes(100)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("index", ["flat", "hnsw"])
@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.unlink(), id="missing"),
        pytest.param(_truncate, id="truncated"),
        pytest.param(_garble, id="corrupt-payload"),
        pytest.param(lambda p: p.write_bytes(os.urandom(4096)), id="garbage"),
        pytest.param(lambda p: p.write_bytes(b""), id="empty"),
    ],
)
def test_damaged_index_file_is_rebuilt_with_a_warning(
    home: Path, index: str, damage, caplog: pytest.LogCaptureFixture
) -> None:
    config = CONFIG.model_copy(update={"index": index})
    texts = _filled(home, config)
    damage(home / "memory" / "episodes.faiss")

    with caplog.at_level(logging.WARNING), MemoryStore.open(home, config, HashingEmbedder()) as s:
        _assert_consistent(s, texts)
    assert any("rebuilding it from the database" in r.getMessage() for r in caplog.records)

    caplog.clear()
    with caplog.at_level(logging.WARNING), MemoryStore.open(home, config, HashingEmbedder()):
        pass
    assert not caplog.records, "the rebuilt index should have been saved"


def test_an_index_file_in_the_older_float32_flat_layout_is_rebuilt(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    texts = _filled(home, CONFIG)
    path = home / "memory" / "episodes.faiss"
    header, payload = read_index_file(path)
    current = VectorIndex.from_bytes(payload, ef_search=64)
    ids = np.array(sorted(current.ids), dtype=np.int64)
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(header.dim))  # what earlier versions saved
    old.add_with_ids(np.stack([current.vector(int(i)) for i in ids]), ids)
    old_payload = faiss.serialize_index(old).tobytes()
    fields = header.model_dump(exclude={"payload_bytes", "payload_crc32"})
    write_index_file(path, IndexHeader.describing(old_payload, **fields), old_payload)

    with caplog.at_level(logging.WARNING), MemoryStore.open(home, CONFIG, HashingEmbedder()) as s:
        _assert_consistent(s, texts)
    assert any("an IndexFlatIP, not this version's" in r.getMessage() for r in caplog.records)
    _, saved = read_index_file(path)
    assert VectorIndex.from_bytes(saved, ef_search=64).ids == current.ids


def test_index_file_of_another_database_is_not_trusted(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _filled(first, CONFIG, n=10)
    texts = _filled(second, CONFIG, n=20)
    (second / "memory" / "episodes.faiss").write_bytes(
        (first / "memory" / "episodes.faiss").read_bytes()
    )
    with MemoryStore.open(second, CONFIG, HashingEmbedder()) as store:
        _assert_consistent(store, texts)


def test_stale_index_file_is_repaired(home: Path) -> None:
    texts = _filled(home, CONFIG, n=10)
    index_file = home / "memory" / "episodes.faiss"
    stale = index_file.read_bytes()
    with MemoryStore.open(home, CONFIG, HashingEmbedder()) as store:
        store.add("a late fact about herons", "user_said")
        store.forget(store.search(sorted(texts)[0], k=1)[0].id)
    index_file.write_bytes(stale)  # as if the process died before saving

    with MemoryStore.open(home, CONFIG, HashingEmbedder()) as store:
        _assert_consistent(store, (texts - {sorted(texts)[0]}) | {"a late fact about herons"})


def test_leftover_temp_files_are_cleaned(home: Path) -> None:
    _filled(home, CONFIG, n=5)
    leftover = home / "memory" / "episodes.faiss.123.tmp"
    leftover.write_bytes(b"half a write")
    with MemoryStore.open(home, CONFIG, HashingEmbedder()) as store:
        store.add("one more fact", "user_said")
        store.rebuild()
    assert not leftover.exists()


def test_other_process_changes_are_seen_without_reopening(home: Path) -> None:
    with (
        MemoryStore.open(home, CONFIG, HashingEmbedder()) as reader,
        MemoryStore.open(home, CONFIG, HashingEmbedder()) as writer,
    ):
        added = writer.add("the kettle is in the left cupboard", "user_said")
        assert added is not None
        assert reader.search("kettle cupboard", k=1)[0].id == added.id
        writer.forget(added.id)
        assert reader.search("kettle cupboard", k=1) == []
