"""A FAISS inner-product index keyed by episode id (the database key).

Flat scans every vector and removes in place. One query's scan reads the whole index, so
its time is memory traffic: flat holds each vector as bfloat16 codes, half the bytes of
float32, which cuts the scan's time nearly in half (`benchmarks/memory_search.py`). A bfloat16
code keeps 8 significant bits, so a flat score is within `SCORE_ERROR` of the exact cosine
and items whose cosines differ by less than twice that may swap places, at the edge of the
top k too. Callers that need exact scores re-score the candidates with the float32 vectors
in the database (the store does).

HNSW holds float32 vectors in a graph and is approximate in which items it finds. FAISS
cannot remove from it, so `remove` does it here (`_HnswGraph`): the item's vector is
zeroed, its links cleared, and every node that linked to it relinked past it, so the
vector is gone from memory and from the next `to_bytes` at once and search never reaches
it. Its slot stays, empty, with id -1, until empty slots outnumber live ones and the graph
is rebuilt from the live vectors it holds.
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

_EMPTY = -1  # the id of an emptied HNSW slot, and the end of a link list


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
        # id -1 marks an HNSW slot emptied by `remove`
        self._live = set(faiss.vector_to_array(_faiss.id_map).tolist()) - {_EMPTY}

    @classmethod
    def from_bytes(cls, payload: bytes, ef_search: int = 64) -> VectorIndex:
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
        if isinstance(inner, faiss.IndexHNSWFlat):
            kind = "hnsw"
        elif isinstance(inner, faiss.IndexScalarQuantizer) and inner.sq.qtype == _FLAT_CODES:
            kind = "flat"
        else:
            layout = type(inner).__name__
            raise ValueError(f"index file holds an {layout}, not this version's layout")
        return cls(kind, index.d, ef_search=ef_search, _faiss=index)

    def to_bytes(self) -> bytes:
        return bytes(self.payload())

    def payload(self) -> memoryview:
        """The serialised index without copying it again: at 100,000 items HNSW is 180 MB,
        and a forget writes it all (`to_bytes` copies it once more)."""
        return memoryview(faiss.serialize_index(self._index))

    @property
    def ids(self) -> frozenset[int]:
        return frozenset(self._live)

    @property
    def ntotal(self) -> int:
        """Slots held, the empty ones of removed HNSW items included."""
        return int(self._index.ntotal)

    @property
    def empty_slots(self) -> int:
        """HNSW slots emptied by `remove`: no vector, no links, not yet compacted away."""
        return self.ntotal - len(self._live)

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, episode_id: object) -> bool:
        return episode_id in self._live

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add unit vectors; ids already present are skipped, so replaying is harmless."""
        fresh = np.array([i not in self._live for i in ids.tolist()], dtype=bool)
        if not fresh.any():
            return
        self._index.add_with_ids(
            np.ascontiguousarray(vectors[fresh], dtype=np.float32), ids[fresh].astype(np.int64)
        )
        self._live.update(ids[fresh].tolist())

    def remove(self, ids: Iterable[int]) -> None:
        """Delete the ids' vectors from memory now: the next `to_bytes` holds none of them."""
        present = self._live.intersection(ids)
        if not present:
            return
        self._live -= present
        doomed = np.fromiter(present, dtype=np.int64)
        if self.kind == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(doomed))
            return
        id_map = _writable(self._index.id_map, np.int64, self.ntotal)
        slots = np.flatnonzero(np.isin(id_map, doomed))
        graph = _HnswGraph(faiss.downcast_index(self._index.index))
        # Relinking costs about 10 ms per removed item at 100,000 items, a rebuild about
        # as much as 5,000 of them: a batch of a tenth of the index or more (a user
        # removed) is cheaper rebuilt. Empty slots cost memory and file bytes, not search
        # time (no link leads to them); compacting once they outnumber live items keeps
        # the index at most twice its live size, at one rebuild per that many removals.
        if len(slots) * 10 >= len(self._live) + len(slots) or self.empty_slots > len(self._live):
            graph.vectors[slots] = 0.0  # not left in freed memory either
            id_map[slots] = _EMPTY
            self._compact(graph)
            return
        with _faiss_threads(1):  # a few small products each: threads only add wake-ups
            graph.remove(slots)
        id_map[slots] = _EMPTY
        self._index.construct_rev_map()
        graph.move_entry_point_off(id_map != _EMPTY)

    def _compact(self, graph: _HnswGraph) -> None:
        """Rebuild the graph from the live float32 vectors it holds, without empty slots."""
        id_map = faiss.vector_to_array(self._index.id_map)
        keep = np.flatnonzero(id_map != _EMPTY)
        vectors, ids = graph.vectors[keep].copy(), id_map[keep]
        hnsw = graph.hnsw
        fresh = VectorIndex(
            "hnsw",
            self.dim,
            hnsw_m=hnsw.nb_neighbors(1),
            ef_construction=hnsw.efConstruction,
            ef_search=self.ef_search,
        )
        fresh.add(ids, vectors)
        self._index, self._live = fresh._index, fresh._live

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
        skipped = self._live.intersection(excluded)
        # A walk that must pass over most of what it meets comes back short, as under a
        # selective `allowed`: then the few eligible ids are scored exactly instead.
        few_left = len(self._live) - len(skipped) <= _EXACT_LIMIT
        if allowed is None and self.kind == "hnsw" and skipped and few_left:
            allowed = np.fromiter(self._live - skipped, dtype=np.int64)
        k = max(1, min(k, len(self._live) if allowed is None else len(allowed)))
        if not self._live or (allowed is not None and len(allowed) == 0):
            empty = np.full((len(queries), k), -1, dtype=np.int64)
            return np.full(empty.shape, -np.inf, dtype=np.float32), empty
        if self.kind == "hnsw" and allowed is not None and len(allowed) <= _EXACT_LIMIT:
            return self._exact(queries, k, allowed)
        params, keep_alive = self._params(k, allowed, skipped)
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
        live = len(self._live)
        eligible = len(allowed) if allowed is not None else live - len(excluded)
        # Widen the beam by the filter's selectivity so enough eligible nodes are met.
        ef = min(live, math.ceil(ef * live / max(eligible, 1)))
        params = faiss.SearchParametersHNSW(efSearch=max(ef, k))
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


def _writable(vector: object, dtype: type[np.generic], count: int) -> np.ndarray:
    """A numpy view of a FAISS vector's memory, written through. FAISS reallocates its
    vectors when items are added, so a view must not outlive the operation at hand."""
    if count == 0:
        return np.empty(0, dtype=dtype)
    raw = faiss.rev_swig_ptr(vector.data(), vector.size())  # type: ignore[attr-defined]
    return raw.view(dtype)[:count]


class _HnswGraph:
    """Removal from a FAISS IndexHNSWFlat, which has none, on views of its arrays.

    Node i's links at level l are neighbors[offsets[i] + bounds[l] : offsets[i] +
    bounds[l + 1]], filled from the front and padded with -1: FAISS's walks stop at the
    first -1, so a list must never have a gap.
    """

    def __init__(self, inner: faiss.IndexHNSWFlat) -> None:
        self.hnsw = inner.hnsw
        count = int(inner.ntotal)
        self.storage = faiss.downcast_index(inner.storage)
        self.vectors = _writable(self.storage.codes, np.float32, count * inner.d).reshape(
            count, inner.d
        )
        self.neighbors = _writable(self.hnsw.neighbors, np.int32, self.hnsw.neighbors.size())
        self.offsets = faiss.vector_to_array(self.hnsw.offsets).astype(np.int64)
        self.bounds = faiss.vector_to_array(self.hnsw.cum_nneighbor_per_level).astype(np.int64)
        self.levels = faiss.vector_to_array(self.hnsw.levels)

    def remove(self, slots: np.ndarray) -> None:
        """Relink past the nodes in `slots`, then clear their links and zero their
        vectors. Costs one vectorised pass over every link (about 6.5 million at 100,000
        items with M=32) plus a small re-selection for each node that linked to one."""
        gone = np.zeros(len(self.vectors), dtype=bool)
        gone[slots] = True
        places = np.flatnonzero(np.isin(self.neighbors, slots))
        owners = np.searchsorted(self.offsets, places, side="right") - 1
        levels = np.searchsorted(self.bounds, places - self.offsets[owners], side="right") - 1
        for owner, level in sorted(set(zip(owners.tolist(), levels.tolist(), strict=True))):
            if not gone[owner]:
                self._relink(owner, level, gone)
        for slot in slots.tolist():
            self.neighbors[self.offsets[slot] : self.offsets[slot + 1]] = _EMPTY
        self.vectors[slots] = 0.0

    def _links(self, node: int, level: int) -> tuple[int, int]:
        start = int(self.offsets[node])
        return start + int(self.bounds[level]), start + int(self.bounds[level + 1])

    def _relink(self, node: int, level: int, gone: np.ndarray) -> None:
        """Drop `node`'s links to removed nodes and offer it their neighbours instead, so
        the walks that passed through a removed node still get across."""
        begin, end = self._links(node, level)
        links = self.neighbors[begin:end]
        links = links[links >= 0]
        lost = links[gone[links]]
        kept = links[~gone[links]]
        offered = np.concatenate(
            [self.neighbors[slice(*self._links(int(away), level))] for away in lost]
        )
        offered = offered[offered >= 0]
        seen = set(kept.tolist()) | {node}
        fresh = [c for c in dict.fromkeys(offered[~gone[offered]].tolist()) if c not in seen]
        room = (end - begin) - len(kept)
        chosen = kept.tolist()
        if fresh and room:
            # HNSW's own rule: skip a candidate nearer to a node already linked than to
            # this one, as the walk reaches it from there. `nearest_linked` holds each
            # candidate's best similarity to the links so far; the nearest candidate is
            # always taken, so the way through the removed node is never lost.
            sims = self._dots(fresh, [node])[:, 0]
            between = self._dots(fresh, fresh)
            nearest_linked = (
                self._dots(fresh, chosen).max(axis=1)
                if chosen
                else np.full(len(fresh), -np.inf, dtype=np.float32)
            )
            for rank, i in enumerate(np.argsort(-sims, kind="stable").tolist()):
                if rank > 0 and nearest_linked[i] > sims[i]:
                    continue
                chosen.append(fresh[i])
                nearest_linked = np.maximum(nearest_linked, between[i])
                room -= 1
                if room == 0:
                    break
        self.neighbors[begin:end] = _EMPTY
        self.neighbors[begin : begin + len(chosen)] = chosen

    def _dots(self, rows: list[int], columns: list[int]) -> np.ndarray:
        """Inner products of held vectors, rows x columns, by FAISS's own kernels: numpy's
        BLAS spreads products this small over threads, which on a busy 2-core machine
        made a removal take 60 times longer (0.46 s against 7 ms at 5,000 items)."""
        out = np.empty((len(rows), len(columns)), dtype=np.float32)
        if out.size:
            queries = np.ascontiguousarray(self.vectors[rows])
            labels = np.ascontiguousarray(
                np.broadcast_to(np.asarray(columns, dtype=np.int64), out.shape)
            )
            self.storage.compute_distance_subset(
                len(rows),
                faiss.swig_ptr(queries),
                len(columns),
                faiss.swig_ptr(out),
                faiss.swig_ptr(labels),
            )
        return out

    def move_entry_point_off(self, live: np.ndarray) -> None:
        """Walks start at the entry point: if it was removed, start from a live node of
        the highest level instead (`live`: which slots hold an item; some must)."""
        if live[self.hnsw.entry_point]:
            return
        entry = int(np.argmax(np.where(live, self.levels, 0)))
        self.hnsw.entry_point = entry
        self.hnsw.max_level = int(self.levels[entry]) - 1
