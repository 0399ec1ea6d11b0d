"""Episodes: add, dedup, search, filters, scoring, forget, list."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from eyla.errors import EylaError
from memory.config import IndexKind, MemoryConfig, RetrievalWeights
from memory.records import NewEpisode
from memory.schema import utcnow
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder


def test_added_item_is_found_with_its_provenance(store: MemoryStore) -> None:
    store.add("my dog is called Pixel", "user_said", importance=0.9)
    store.add("the capital of France is Paris", "agent_said")
    store.add("I am Eyla, an identity-anchored assistant", "identity")

    hits = store.search("what is my dog called", k=2)

    assert hits[0].text == "my dog is called Pixel"
    assert hits[0].provenance == "user_said"
    assert hits[0].importance == 0.9
    assert hits[0].relevance > hits[1].relevance


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_relevance_is_the_exact_cosine_of_the_stored_vectors(home: Path, kind: IndexKind) -> None:
    """The flat index scores bfloat16 codes; what a hit reports is the float32 cosine."""
    embedder = HashingEmbedder()
    texts = ["my dog is called Pixel", "my cat is called Tom", "dogs like long walks"]
    query = "what is my dog called"
    with MemoryStore.open(home, MemoryConfig(index=kind), embedder) as store:
        for text in texts:
            store.add(text, "user_said")
        hits = store.search(query, k=3)
    vectors = embedder.embed([query, *texts])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = dict(zip(texts, (unit[1:] @ unit[0]).tolist(), strict=True))
    assert {hit.text: hit.relevance for hit in hits} == pytest.approx(exact, abs=1e-6)


def test_exact_duplicate_is_not_stored_twice(store: MemoryStore) -> None:
    first = store.add("My dog is called Pixel", "user_said", importance=0.3)
    assert first is not None

    assert store.add("  my DOG is called   Pixel ", "user_said", importance=0.8) is None

    assert store.stats().episodes == 1
    assert store.get(first.id).importance == 0.8  # raised to the repeated telling's


def test_near_duplicate_needs_both_cosine_and_wording(store: MemoryStore) -> None:
    assert store.add("my dog is called Pixel", "user_said") is not None
    assert store.add("my dog is called Pixel!", "user_said") is None  # same words
    # Close in meaning, but a different fact: must be kept.
    assert store.add("my dog is called Rex", "user_said") is not None
    assert store.stats().episodes == 2


def test_duplicates_within_one_batch_collapse(store: MemoryStore) -> None:
    results = store.add_many(
        [
            NewEpisode(text="tea is better than coffee", provenance="user_said"),
            NewEpisode(text="Tea is better than coffee.", provenance="user_said"),
            NewEpisode(text="tea  is better than coffee", provenance="user_said"),
        ]
    )
    assert [r is not None for r in results] == [True, False, False]
    assert store.stats().episodes == 1


def test_near_duplicate_check_can_be_switched_off(home: Path, config: MemoryConfig) -> None:
    config = config.model_copy(update={"dedup": config.dedup.model_copy(update={"near": False})})
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        store.add("my dog is called Pixel", "user_said")
        assert store.add("my dog is called Pixel!", "user_said") is not None
        assert store.add("MY DOG is called Pixel", "user_said") is None  # exact: always


def test_filters_apply_inside_the_index_and_still_fill_k(store: MemoryStore) -> None:
    chat = store.create_session("chat")
    # Many strong matches outside the filter; few weak ones inside it.
    for i in range(40):
        store.add(f"pixel the dog fact number {i}", "agent_said")
    store.add("pixel", "user_said", session_id=chat.id)
    store.add("something about pixel", "user_said")
    store.add("unrelated words only", "user_said", session_id=chat.id)

    by_provenance = store.search("pixel the dog", k=3, provenance=["user_said"])
    by_session = store.search("pixel the dog", k=5, session_id=chat.id)
    both = store.search("pixel the dog", k=5, session_id=chat.id, provenance=["user_said"])

    assert len(by_provenance) == 3
    assert {h.provenance for h in by_provenance} == {"user_said"}
    assert sorted(h.text for h in by_session) == ["pixel", "unrelated words only"]
    assert {h.session_id for h in both} == {chat.id}
    assert store.search("pixel", provenance=["reflection"]) == []


def test_unknown_provenance_is_refused(store: MemoryStore) -> None:
    with pytest.raises(EylaError, match="provenance"):
        store.add("a fact", "hearsay")
    with pytest.raises(EylaError, match="unknown provenance hearsay"):
        store.search("a fact", provenance=["hearsay"])


def test_missing_session_is_refused(store: MemoryStore) -> None:
    with pytest.raises(EylaError, match="no session #99"):
        store.add("a fact", "user_said", session_id=99)
    assert store.stats().episodes == 0


def test_score_combines_relevance_recency_and_importance(home: Path) -> None:
    weights = RetrievalWeights(relevance=1.0, recency=1.0, importance=1.0)
    config = MemoryConfig(weights=weights, recency_half_life_hours=24.0)
    long_ago = utcnow() - timedelta(hours=48)
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        store.add_many(
            [
                NewEpisode(text="the blue car", provenance="user_said", importance=0.1),
                NewEpisode(
                    text="the blue boat",
                    provenance="user_said",
                    importance=0.9,
                    created_at=long_ago,
                ),
            ]
        )
        hits = {hit.text: hit for hit in store.search("the blue", k=2)}

    car, boat = hits["the blue car"], hits["the blue boat"]
    assert car.recency == pytest.approx(1.0, abs=1e-3)
    assert boat.recency == pytest.approx(0.25, abs=1e-3)  # two half-lives
    for hit in (car, boat):
        assert hit.score == pytest.approx(hit.relevance + hit.recency + hit.importance)


def test_search_refreshes_last_access(store: MemoryStore) -> None:
    episode = store.add("the garden has roses", "user_said")
    assert episode is not None
    [hit] = store.search("roses", k=1)
    assert hit.last_accessed_at == episode.last_accessed_at  # as scored
    assert store.get(episode.id).last_accessed_at > episode.last_accessed_at


def test_forget_removes_from_results_and_index(store: MemoryStore) -> None:
    keep = store.add("the password hint is a bird", "user_said")
    drop = store.add("my bank pin is a secret", "user_said")
    assert keep is not None and drop is not None

    store.forget(drop.id)
    store.forget(drop.id)  # idempotent

    assert [h.id for h in store.search("my bank pin is a secret", k=5)] == [keep.id]
    assert store.stats().index_size == 1
    assert store.get(drop.id).forgotten_at is not None
    assert [e.id for e in store.list()] == [keep.id]
    assert {e.id for e in store.list(include_forgotten=True)} == {keep.id, drop.id}
    with pytest.raises(EylaError, match="no memory #404"):
        store.forget(404)


def test_forgotten_text_can_be_remembered_again(store: MemoryStore) -> None:
    first = store.add("I like jazz", "user_said")
    assert first is not None
    store.forget(first.id)
    again = store.add("I like jazz", "user_said")
    assert again is not None and again.id != first.id
    assert [h.id for h in store.search("jazz")] == [again.id]


def test_list_filters_and_pages_newest_first(store: MemoryStore) -> None:
    chat = store.create_session()
    ids = [
        store.add(f"fact {word}", "user_said" if i % 2 else "reflection", session_id=chat.id)
        for i, word in enumerate(["alpha", "bravo", "charlie", "delta", "echo"])
    ]
    assert all(ids)
    newest_first = [e.id for e in reversed(ids) if e is not None]
    assert [e.id for e in store.list()] == newest_first
    assert [e.id for e in store.list(limit=2, offset=1)] == newest_first[1:3]
    assert {e.provenance for e in store.list(provenance=["reflection"])} == {"reflection"}
    assert len(store.list(session_id=chat.id)) == 5
    assert store.list(session_id=chat.id + 1) == []


def test_empty_store_search_returns_nothing(store: MemoryStore) -> None:
    assert store.search("anything") == []
    assert store.stats().index_size == 0


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_both_index_kinds_retrieve_the_same_best_item(home: Path, index: IndexKind) -> None:
    config = MemoryConfig(index=index)
    texts = [f"note {i} about topic {i % 17} and colour {i % 5}" for i in range(300)]
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        store.add_many([NewEpisode(text=text, provenance="agent_said") for text in texts])
        hits = store.search("note 123 about topic 4 and colour 3", k=1)
        assert hits[0].text == "note 123 about topic 4 and colour 3"


def test_store_reopens_with_everything(home: Path, config: MemoryConfig) -> None:
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        chat = store.create_session("kept")
        store.add("the lake is cold in May", "user_said", session_id=chat.id)
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        [hit] = store.search("cold lake", k=1)
        assert hit.session_id == chat.id
        assert store.list_sessions()[0].title == "kept"


def test_a_corrupt_database_file_is_one_clear_error(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "eyla.db").write_text("this is not a database")
    with pytest.raises(EylaError, match="cannot open the memory database"):
        MemoryStore.open(home, embedder=HashingEmbedder())
    assert (home / "eyla.db").read_text() == "this is not a database", "nothing overwritten"
