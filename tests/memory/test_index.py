"""VectorIndex: stable ids, removal, filters inside FAISS, serialisation."""

from __future__ import annotations

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
    if kind == "flat":
        assert index.ntotal == len(ids) - 50
    else:
        assert index.tombstones == frozenset(gone.tolist())


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
    import faiss

    old = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    with pytest.raises(ValueError, match="not this version's layout"):
        VectorIndex.from_bytes(faiss.serialize_index(old).tobytes(), [], ef_search=64)


def test_filter_skips_tombstones() -> None:
    index, ids, _ = _index("hnsw", n=100)
    index.remove([int(ids[0])])
    _, found = index.search(index.vector(int(ids[1]))[None, :], 5, ids[:3])
    assert int(ids[0]) not in found[0].tolist()


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_serialisation_keeps_ids_and_tombstones(kind: IndexKind) -> None:
    index, ids, vectors = _index(kind)
    index.remove([int(ids[3])])
    copy = VectorIndex.from_bytes(index.to_bytes(), index.tombstones, ef_search=64)
    assert copy.kind == kind
    assert copy.ids == index.ids
    assert copy.tombstones == index.tombstones
    _, found = copy.search(vectors[3:4], 1)
    assert found[0, 0] != ids[3]


def test_empty_index_and_empty_filter() -> None:
    index = VectorIndex("flat", DIM)
    _, found = index.search(np.ones((1, DIM), dtype=np.float32), 4)
    assert (found == -1).all()
    full, _, vectors = _index("flat")
    _, found = full.search(vectors[:1], 4, np.array([], dtype=np.int64))
    assert (found == -1).all()
