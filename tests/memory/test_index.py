"""VectorIndex: stable ids, removal, filters inside FAISS, serialisation."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from memory.config import IndexKind
from memory.index import SCORE_ERROR, VectorIndex

DIM = 32


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.arange(1000, 1000 + n, dtype=np.int64), vectors


def _tolerance(kind: IndexKind) -> float:
    """How far a score may be from the exact cosine: flat holds bfloat16 codes."""
    return SCORE_ERROR if kind == "flat" else 1e-5


def _index(kind: IndexKind, n: int = 500) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    index = VectorIndex(kind, DIM, ef_search=64)
    ids, vectors = _data(n)
    index.add(ids, vectors)
    return index, ids, vectors


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_ids_are_the_keys_given(kind: IndexKind) -> None:
    index, ids, vectors = _index(kind)
    scores, found = index.search(vectors[:5], 1)
    assert found[:, 0].tolist() == ids[:5].tolist()
    assert scores[:, 0] == pytest.approx(1.0, abs=_tolerance(kind))


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_adding_again_is_harmless(kind: IndexKind) -> None:
    index, ids, vectors = _index(kind)
    index.add(ids[:10], vectors[:10])
    assert len(index) == index.ntotal == len(ids)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_removed_ids_never_come_back(kind: IndexKind) -> None:
    index, ids, vectors = _index(kind)
    gone = ids[:50]
    index.remove(gone.tolist())
    _, found = index.search(vectors[:50], 10)
    assert not set(found.ravel().tolist()) & set(gone.tolist())
    assert len(index) == len(ids) - 50
    assert index.ids == frozenset(ids[50:].tolist())
    assert index.ntotal == len(ids) - 50  # HNSW: a tenth at once is rebuilt without them


@pytest.fixture(scope="module", params=["flat", "hnsw"])
def large(request: pytest.FixtureRequest) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    """Built once per kind; tests using it must not change it."""
    return _index(request.param, n=5000)


@pytest.mark.parametrize("allowed_count", [3, 40, 3000])
def test_filter_returns_k_allowed_results(
    large: tuple[VectorIndex, np.ndarray, np.ndarray], allowed_count: int
) -> None:
    index, ids, vectors = large
    rng = np.random.default_rng(1)
    allowed = rng.choice(ids, size=allowed_count, replace=False)
    query = vectors[:1]

    scores, found = index.search(query, 8, allowed)

    hits = [i for i in found[0].tolist() if i >= 0]
    assert len(hits) == min(8, allowed_count)
    assert set(hits) <= set(allowed.tolist())
    # Flat scans every item; HNSW must find the true best allowed item too.
    exact = (vectors[allowed - 1000] @ query[0]).max()
    assert scores[0, 0] == pytest.approx(exact, abs=_tolerance(index.kind))


def test_flat_scores_keep_within_the_error_bound_at_full_width() -> None:
    """At MiniLM's width every flat score is within the bound, so flat misses no item that
    beats the (k+1)-th best by more than twice the bound."""
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((2000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex("flat", 384)
    index.add(np.arange(2000, dtype=np.int64), vectors)
    queries = vectors[:20] + 0.05 * rng.standard_normal((20, 384)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    k = 10
    scores, found = index.search(queries, k)
    exact = queries @ vectors.T
    assert np.abs(scores - np.take_along_axis(exact, found, axis=1)).max() <= SCORE_ERROR
    for row, ids in zip(exact, found, strict=True):
        next_best = np.sort(row)[-(k + 1)]
        assert set(np.flatnonzero(row > next_best + 2 * SCORE_ERROR)) <= set(ids.tolist())
    assert found[:, 0].tolist() == list(range(20))


def test_older_flat_layouts_are_refused() -> None:
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    with pytest.raises(ValueError, match="not this version's layout"):
        VectorIndex.from_bytes(faiss.serialize_index(old).tobytes(), ef_search=64)


def test_filter_skips_removed_items() -> None:
    index, ids, _ = _index("hnsw", n=100)
    index.remove([int(ids[0])])
    _, found = index.search(index.vector(int(ids[1]))[None, :], 5, ids[:3])
    assert int(ids[0]) not in found[0].tolist()


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_serialisation_keeps_ids_and_removals(kind: IndexKind) -> None:
    index, ids, vectors = _index(kind)
    index.remove([int(ids[3])])
    copy = VectorIndex.from_bytes(index.to_bytes(), ef_search=64)
    assert copy.kind == kind
    assert copy.ids == index.ids
    assert copy.empty_slots == index.empty_slots
    _, found = copy.search(vectors[3:4], 1)
    assert found[0, 0] != ids[3]


def test_empty_index_and_empty_filter() -> None:
    index = VectorIndex("flat", DIM)
    _, found = index.search(np.ones((1, DIM), dtype=np.float32), 4)
    assert (found == -1).all()
    full, _, vectors = _index("flat")
    _, found = full.search(vectors[:1], 4, np.array([], dtype=np.int64))
    assert (found == -1).all()


def _entry_id(index: VectorIndex) -> int:
    """The id of the node every HNSW walk starts from."""
    inner = faiss.downcast_index(index._index.index)
    return int(faiss.vector_to_array(index._index.id_map)[inner.hnsw.entry_point])


def _reachable(index: VectorIndex) -> set[int]:
    """Every id a walk can reach: with the beam as wide as the index, HNSW search stops
    only when no unvisited neighbour is left, so it returns all it can reach."""
    wide = VectorIndex.from_bytes(index.to_bytes(), ef_search=index.ntotal)
    query = wide.vector(next(iter(wide.ids)))[None, :]
    _, found = wide.search(query, len(wide))
    return set(found[0].tolist()) - {-1}


def test_hnsw_removal_keeps_every_item_reachable_and_search_right() -> None:
    index, _, vectors = _index("hnsw", n=2000)
    rng = np.random.default_rng(3)
    gone = [_entry_id(index)]  # the walks' start goes first
    index.remove(gone)
    for size in (1, 5, 50, 150):  # one at a time (forget) and in batches, under a tenth
        batch = rng.choice(sorted(index.ids), size=size, replace=False).tolist()
        index.remove(batch)
        gone += batch
    live = np.array(sorted(index.ids))
    assert len(live) == 2000 - len(gone) and index.empty_slots == len(gone)
    assert _reachable(index) == set(live.tolist())

    queries = vectors[:100]
    _, found = index.search(queries, 8)
    exact = queries @ vectors[live - 1000].T
    best = live[np.argsort(-exact, axis=1)[:, :8]]
    assert not set(found.ravel().tolist()) & set(gone)
    recall = np.mean([len(set(f) & set(b)) / 8 for f, b in zip(found, best, strict=True)])
    assert recall >= 0.99


def test_hnsw_removal_takes_the_vector_out_of_the_bytes_at_once() -> None:
    index, ids, vectors = _index("hnsw", n=300)
    victims = [int(ids[7]), _entry_id(index)]
    index.remove(victims)
    payload = index.to_bytes()
    for victim in victims:
        held = vectors[victim - 1000].tobytes()
        assert not any(held[i : i + 16] in payload for i in range(0, len(held) - 15, 16))
    assert vectors[8].tobytes() in payload  # the rest is intact
    copy = VectorIndex.from_bytes(payload)
    assert copy.ids == index.ids and not set(victims) & copy.ids
    assert _reachable(copy) == set(copy.ids)


def test_hnsw_empty_slots_are_compacted_once_they_outnumber_live_items() -> None:
    index, ids, vectors = _index("hnsw", n=200)
    for episode_id in ids[:100].tolist():  # one at a time: relinked, slots left empty
        index.remove([episode_id])
    assert index.ntotal == 200 and index.empty_slots == 100  # not yet: as many as live
    index.remove([int(ids[100])])
    assert index.ntotal == len(index) == 99 and index.empty_slots == 0
    assert _reachable(index) == set(ids[101:].tolist())
    _, found = index.search(vectors[150:151], 1)
    assert found[0, 0] == ids[150]


def test_hnsw_a_large_batch_is_removed_by_a_rebuild() -> None:
    index, ids, vectors = _index("hnsw", n=200)
    index.remove(ids[:20].tolist())  # a tenth of the index
    assert index.ntotal == len(index) == 180
    payload = index.to_bytes()
    assert not any(vectors[i].tobytes()[:16] in payload for i in range(20))
    assert _reachable(index) == set(ids[20:].tolist())


def test_hnsw_removing_everything_then_adding_again() -> None:
    index, ids, vectors = _index("hnsw", n=50)
    index.remove(ids.tolist())
    assert len(index) == index.ntotal == 0
    _, found = index.search(vectors[:1], 3)
    assert (found == -1).all()
    index.add(ids[:5], vectors[:5])  # ids come back only through a new add
    _, found = index.search(vectors[:1], 1)
    assert found[0, 0] == ids[0]


def test_hnsw_excluding_nearly_everything_still_fills_k() -> None:
    """Another user's items, hidden from a search, can be most of the index."""
    index, ids, vectors = _index("hnsw", n=3000)
    mine = ids[::100]  # 30 items of 3000 left eligible
    _, found = index.search(vectors[:1], 8, excluded=set(ids.tolist()) - set(mine.tolist()))
    exact = mine[np.argsort(-(vectors[mine - 1000] @ vectors[0]))[:8]]
    assert found[0].tolist() == exact.tolist()
