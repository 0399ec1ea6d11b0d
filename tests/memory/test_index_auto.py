"""index = "auto": flat while the store is small, HNSW from `hnsw_from_items` on, switched
as the store grows and shrinks, saved and reconciled like a fixed kind, and searching
with the same results as an exact search."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from memory.config import MemoryConfig, RetrievalWeights
from memory.index_file import read_header
from memory.records import NewEpisode
from memory.store import MemoryStore

THRESHOLD = 30
RELEVANCE_ONLY = RetrievalWeights(relevance=1.0, recency=0.0, importance=0.0)


class RandomEmbedder:
    """A dense pseudo-random unit vector per text: no two items tie, and no near-
    duplicates, so every search has one right answer to compare with."""

    name = "random-fake"
    dim = 32

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = [_rng(text).standard_normal(self.dim) for text in texts]
        vectors = np.stack(rows).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _rng(text: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.blake2b(text.encode()).digest()[:8]))


def _config(threshold: int = THRESHOLD) -> MemoryConfig:
    return MemoryConfig(hnsw_from_items=threshold, weights=RELEVANCE_ONLY)


def _items(start: int, stop: int) -> list[NewEpisode]:
    return [NewEpisode(text=f"fact {i}", provenance="user_said") for i in range(start, stop)]


def _kind_on_disk(home: Path) -> str:
    return read_header(home / "memory" / "episodes.faiss").kind


def test_the_kind_follows_the_size_with_a_gap_between_the_switches() -> None:
    config = MemoryConfig(hnsw_from_items=100)
    assert config.index == "auto"
    assert config.index_kind_for(0) == "flat"
    assert config.index_kind_for(99, "flat") == "flat"
    assert config.index_kind_for(100, "flat") == "hnsw"
    assert config.index_kind_for(50, "hnsw") == "hnsw"  # stays until below half
    assert config.index_kind_for(49, "hnsw") == "flat"
    assert config.index_kind_for(75) == "flat"  # built afresh in the gap: flat
    for kind in ("flat", "hnsw"):
        fixed = MemoryConfig(index=kind, hnsw_from_items=100)
        assert {fixed.index_kind_for(n, "flat") for n in (0, 60, 10**6)} == {kind}


def test_the_store_switches_at_the_threshold_and_saves_the_new_kind(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with MemoryStore.open(home, _config(), RandomEmbedder()) as store:
        store.add_many(_items(0, THRESHOLD - 1))
        store.rebuild()
        assert store.stats().index_kind == "flat (auto)"
        assert _kind_on_disk(home) == "flat"

        store.add_many(_items(THRESHOLD - 1, THRESHOLD))

        assert store.stats().index_kind == "hnsw (auto)"
        assert store.stats().index_size == THRESHOLD
        assert _kind_on_disk(home) == "hnsw"  # saved at once: the whole index is new
    with caplog.at_level(logging.INFO), MemoryStore.open(home, _config(), RandomEmbedder()) as s:
        assert s.stats().index_kind == "hnsw (auto)"
        assert [hit.text for hit in s.search("fact 3", k=1)] == ["fact 3"]
    assert not [r for r in caplog.records if "rebuild" in r.getMessage()], "file reused"


@pytest.mark.parametrize("threshold", [10_000, THRESHOLD], ids=["flat", "hnsw"])
def test_search_finds_what_an_exact_search_finds(home: Path, threshold: int) -> None:
    embedder = RandomEmbedder()
    texts = [f"fact {i}" for i in range(300)]
    with MemoryStore.open(home, _config(threshold), embedder) as store:
        store.add_many(_items(0, 300))
        store.forget(store.search("fact 5", k=1)[0].id)  # a removal in the graph too
        live = [text for text in texts if text != "fact 5"]
        expected_kind = "flat" if threshold > 300 else "hnsw"
        assert store.stats().index_kind == f"{expected_kind} (auto)"
        vectors = embedder.embed(live)
        for q in range(40):
            query = f"question {q}"
            hits = store.search(query, k=8)
            exact = np.argsort(-(vectors @ embedder.embed([query])[0]))[:8]
            assert [hit.text for hit in hits] == [live[i] for i in exact]


def test_a_stale_file_of_the_old_kind_is_reconciled_and_switched_on_open(home: Path) -> None:
    with MemoryStore.open(home, _config(), RandomEmbedder()) as store:
        added = store.add_many(_items(0, 25))
        store.rebuild()
    stale = (home / "memory" / "episodes.faiss").read_bytes()  # flat, 25 items
    gone = [episode.id for episode in added[:2] if episode is not None]
    with MemoryStore.open(home, _config(), RandomEmbedder()) as store:
        store.add_many(_items(25, 35))  # past the threshold: HNSW
        for episode_id in gone:
            store.forget(episode_id)
        assert _kind_on_disk(home) == "hnsw"
    # as if the process had died before saving anything after the stale snapshot
    (home / "memory" / "episodes.faiss").write_bytes(stale)

    with MemoryStore.open(home, _config(), RandomEmbedder()) as store:
        figures = store.stats()
        assert (figures.index_kind, figures.index_size) == ("hnsw (auto)", 33)
        assert _kind_on_disk(home) == "hnsw"  # the repaired, switched index was saved
        for i in range(2, 35):
            assert [hit.text for hit in store.search(f"fact {i}", k=1)] == [f"fact {i}"]
        found = {hit.id for i in range(2) for hit in store.search(f"fact {i}", k=33)}
        assert not found & set(gone)


def test_a_shrinking_store_goes_back_to_flat_below_half(home: Path) -> None:
    with MemoryStore.open(home, _config(), RandomEmbedder()) as store:
        added = [e.id for e in store.add_many(_items(0, THRESHOLD)) if e is not None]
        assert store.stats().index_kind == "hnsw (auto)"
        for episode_id in added[: THRESHOLD - THRESHOLD // 2]:  # down to half: stays
            store.forget(episode_id)
        assert store.stats().index_kind == "hnsw (auto)"
        store.forget(added[THRESHOLD // 2])  # below half
        assert store.stats().index_kind == "flat (auto)"
        assert _kind_on_disk(home) == "flat"
        assert store.stats().index_size == THRESHOLD // 2 - 1


def test_another_process_switches_as_it_catches_up(home: Path) -> None:
    with (
        MemoryStore.open(home, _config(), RandomEmbedder()) as writer,
        MemoryStore.open(home, _config(), RandomEmbedder()) as reader,
    ):
        writer.add_many(_items(0, 5))
        assert reader.stats().index_kind == "flat (auto)"
        writer.add_many(_items(5, THRESHOLD + 5))
        assert reader.stats().index_kind == "hnsw (auto)"
        assert [hit.text for hit in reader.search("fact 33", k=1)] == ["fact 33"]


def test_forget_takes_the_vector_out_of_the_hnsw_file_without_a_rebuild(home: Path) -> None:
    embedder = RandomEmbedder()
    with MemoryStore.open(home, _config(), embedder) as store:
        added = [e for e in store.add_many(_items(0, 40)) if e is not None]
        store.rebuild()
        held = embedder.embed(["fact 7"])[0].astype("<f4").tobytes()
        index_file = home / "memory" / "episodes.faiss"
        assert held in index_file.read_bytes()

        store.forget(added[7].id)

        figures = store.stats()
        assert (figures.index_kind, figures.index_size) == ("hnsw (auto)", 39)
        assert figures.index_empty_slots == 1  # deleted in the graph, not rebuilt
        on_disk = index_file.read_bytes()
        assert not any(held[i : i + 16] in on_disk for i in range(0, len(held) - 15, 16))
        assert added[7].id not in {hit.id for hit in store.search("fact 7", k=39)}
