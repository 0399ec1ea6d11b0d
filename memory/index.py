"""A FAISS inner-product index keyed by episode id (the database key).

Flat scans every vector and removes in place. One query's scan reads the whole index, so
its time is memory traffic: flat holds each vector as bfloat16 codes, half the bytes of
float32, which cuts the scan's time nearly in half (`benchmarks/memory_search.py`). A bfloat16
code keeps 8 significant bits, so a flat score is within `SCORE_ERROR` of the exact cosine
and items whose cosines differ by less than twice that may swap places, at the edge of the
top k too. Callers that need exact scores re-score the candidates with the float32 vectors
in the database (the store does).

HNSW holds float32 vectors and is approximate in which items it finds; it cannot remove,
so removed ids become tombstones that every search excludes. Their vectors stay in the
graph and in its saved bytes, so the store rebuilds the index instead (index_cache.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import faiss
import numpy as np

from memory.config import IndexKind

# Below this many allowed ids, HNSW scores them exactly: a graph walk under a selective
# filter skips most nodes it visits and can come back with fewer than k results.
_EXACT_LIMIT = 2048

# Flat scores: codes round each component to 8 significant bits (relative error at most
# 2^-8) and the query stays float32, so by Cauchy-Schwarz a cosine is off by at most 2^-8
# of |item| |query| = 1. Typical errors are ten times smaller: the roundings mostly cancel.
SCORE_ERROR = 2.0**-8
_FLAT_CODES = faiss.ScalarQuantizer.QT_bf16

# FAISS splits a search across OpenMP threads by query; for a handful of queries the thread
# wake-ups cost more than the scan (a single query took 8x longer on two threads).
_FEW_QUERIES = 20


@contextmanager
def _faiss_threads(count: int) -> Iterator[None]:
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class VectorIndex:
    def __init__(
        self,
        kind: IndexKind,
        dim: int,
        *,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 64,
        _faiss: faiss.IndexIDMap2 | None = None,
        _tombstones: Iterable[int] = (),
    ) -> None:
        self.kind: IndexKind = kind
        self.dim = dim
        self.ef_search = ef_search
        if _faiss is None:
            if kind == "flat":
                inner = faiss.IndexScalarQuantizer(dim, _FLAT_CODES, faiss.METRIC_INNER_PRODUCT)
            else:
                inner = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
                inner.hnsw.efConstruction = ef_construction
            _faiss = faiss.IndexIDMap2(inner)
        self._index = _faiss
        self._tombstones = set(_tombstones)
        self._live = set(faiss.vector_to_array(_faiss.id_map).tolist()) - self._tombstones

    @classmethod
    def from_bytes(cls, payload: bytes, tombstones: Iterable[int], ef_search: int) -> VectorIndex:
        """An index saved by `to_bytes`; raises ValueError (or FAISS's RuntimeError) if the
        bytes hold anything else, including the float32 flat layout of earlier versions,
        which the owner then rebuilds from the database."""
        index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
        if not isinstance(index, faiss.IndexIDMap2):
            raise ValueError(f"not an id-mapped index: {type(index).__name__}")
        if index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError("not an inner-product index")
        inner = faiss.downcast_index(index.index)
        kind: IndexKind
        if isinstance(inner, faiss.IndexHNSW):
            kind = "hnsw"
        elif isinstance(inner, faiss.IndexScalarQuantizer) and inner.sq.qtype == _FLAT_CODES:
            kind = "flat"
        else:
            layout = type(inner).__name__
            raise ValueError(f"index file holds an {layout}, not this version's layout")
        return cls(kind, index.d, ef_search=ef_search, _faiss=index, _tombstones=tombstones)

    def to_bytes(self) -> bytes:
        return faiss.serialize_index(self._index).tobytes()

    @property
    def ids(self) -> frozenset[int]:
        return frozenset(self._live)

    @property
    def tombstones(self) -> frozenset[int]:
        return frozenset(self._tombstones)

    @property
    def ntotal(self) -> int:
        """Vectors held, tombstones included."""
        return int(self._index.ntotal)

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, episode_id: object) -> bool:
        return episode_id in self._live

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add unit vectors; ids already present are skipped, so replaying is harmless."""
        fresh = np.array([i not in self._live for i in ids.tolist()], dtype=bool)
        if not fresh.any():
            return
        if self._tombstones.intersection(ids[fresh].tolist()):
            raise ValueError("an id forgotten from an HNSW index cannot come back; rebuild it")
        self._index.add_with_ids(
            np.ascontiguousarray(vectors[fresh], dtype=np.float32), ids[fresh].astype(np.int64)
        )
        self._live.update(ids[fresh].tolist())

    def remove(self, ids: Iterable[int]) -> None:
        present = self._live.intersection(ids)
        if not present:
            return
        self._live -= present
        if self.kind == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(np.fromiter(present, dtype=np.int64)))
        else:
            self._tombstones |= present

    def vector(self, episode_id: int) -> np.ndarray:
        """The vector as held: float32 for HNSW, bfloat16-rounded for flat."""
        return self._index.reconstruct(episode_id)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        excluded: Iterable[int] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row, among `allowed` ids if given, else among all
        but `excluded`. The filter runs inside FAISS, so k results come back whenever k
        eligible items exist; missing slots hold id -1. Flat scores are within
        `SCORE_ERROR` of exact."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, min(k, len(self._live) if allowed is None else len(allowed)))
        if not self._live or (allowed is not None and len(allowed) == 0):
            empty = np.full((len(queries), k), -1, dtype=np.int64)
            return np.full(empty.shape, -np.inf, dtype=np.float32), empty
        if self.kind == "hnsw" and allowed is not None and len(allowed) <= _EXACT_LIMIT:
            return self._exact(queries, k, allowed)
        params, keep_alive = self._params(k, allowed, self._tombstones.union(excluded))
        threads = 1 if len(queries) < _FEW_QUERIES else faiss.omp_get_max_threads()
        with _faiss_threads(threads):
            scores, ids = self._index.search(queries, k, params=params)
        del keep_alive  # the selectors must outlive the search call, no longer
        return scores, ids

    def _params(
        self, k: int, allowed: np.ndarray | None, excluded: set[int]
    ) -> tuple[faiss.SearchParameters | None, list[object]]:
        if allowed is not None:
            selector: faiss.IDSelector | None = faiss.IDSelectorBatch(allowed.astype(np.int64))
            keep_alive: list[object] = [selector]
        elif excluded:
            dead = faiss.IDSelectorBatch(np.fromiter(excluded, dtype=np.int64))
            selector = faiss.IDSelectorNot(dead)
            keep_alive = [dead, selector]
        else:
            selector, keep_alive = None, []
        if self.kind == "flat":
            return (faiss.SearchParameters(sel=selector) if selector else None), keep_alive
        ef = max(self.ef_search, k)
        if allowed is not None:
            # Widen the beam by the filter's selectivity so enough allowed nodes are met.
            ef = min(self._index.ntotal, math.ceil(ef * self._index.ntotal / len(allowed)))
        params = faiss.SearchParametersHNSW(efSearch=ef)
        if selector is not None:
            params.sel = selector
        return params, keep_alive

    def _exact(
        self, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        ids = np.array([i for i in allowed.tolist() if i in self._live], dtype=np.int64)
        k_found = min(k, len(ids))
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        labels = np.full((len(queries), k), -1, dtype=np.int64)
        if k_found == 0:
            return scores, labels
        matrix = np.stack([self.vector(i) for i in ids.tolist()])
        sims = queries @ matrix.T
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k_found]
        scores[:, :k_found] = np.take_along_axis(sims, top, axis=1)
        labels[:, :k_found] = ids[top]
        return scores, labels
