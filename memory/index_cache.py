"""The FAISS index as a derived cache of the database.

The database is the truth: writers commit SQL first, and every process then replays the
history table (the change feed) past its watermark into its in-memory index. The index file
only saves rebuild time; on open it is checked against the database and repaired, or
rebuilt from the stored vectors when it is missing, damaged or built for something else.

A forgotten item's vector must leave memory and the file for good: both kinds delete it in
place (index.py), and the file is written again at once (`MemoryStore.forget`).

Under `index = "auto"` the kind follows the store's size (`MemoryConfig.index_kind_for`):
flat while small, HNSW from `hnsw_from_items` on. A change of kind is a rebuild from the
database's float32 vectors (flat holds only bfloat16 codes), made where the size is first
seen to cross: on open, or when catching up with adds and forgets, in every process alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from memory.config import IndexKind, MemoryConfig
from memory.db import Database
from memory.index import VectorIndex
from memory.index_file import (
    IndexFileError,
    IndexHeader,
    read_header,
    read_index_file,
    remove_stale_temp_files,
    write_index_file,
)
from memory.locking import file_lock
from memory.schema import EpisodeRow, HistoryRow, StoreMetaRow
from memory.vectors import unpack

log = logging.getLogger(__name__)

_CHUNK = 4096
_LIVE = EpisodeRow.forgotten_at.is_(None)


class IndexCache:
    def __init__(self, db: Database, path: Path, lock_path: Path, config: MemoryConfig) -> None:
        self.path = path
        self._lock_path = lock_path
        self._db = db
        self._config = config
        self.index: VectorIndex | None = None
        self.model: str | None = None  # the embedding model whose vectors the index holds
        self._store_id = ""
        self._watermark = 0
        self._unsaved = 0
        # the kind changed since the last save: other processes opening the file would
        # each rebuild the index otherwise, so the next checkpoint saves it
        self._rekinded = False

    @property
    def watermark(self) -> int:
        """The last history id applied: the store has changed since iff the history has."""
        return self._watermark

    @property
    def model_in_use(self) -> tuple[str, int] | None:
        """(model, dim) of the vectors searched; None while there are none, when any
        embedder may start the store afresh."""
        if self.index is None or self.model is None or len(self.index) == 0:
            return None
        return self.model, self.index.dim

    def open(self) -> None:
        """Load the file, then make it match the database (repair or rebuild)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db.reading() as session:
            self._store_id = session.get_one(StoreMetaRow, "store_id").value
            self._watermark = session.scalar(select(func.max(HistoryRow.id))) or 0
            model = _majority_model(session)
            try:
                with file_lock(self._lock_path, shared=True):
                    header, payload = read_index_file(self.path)
                self._check(header, model)
                self.index = VectorIndex.from_bytes(payload, self._config.hnsw_ef_search)
                if self.index.kind != header.kind:
                    raise IndexFileError("index file header and payload disagree")
                if header.tombstones:  # saved by an earlier version
                    raise IndexFileError("index file still holds forgotten vectors")
                self.model = header.model
                changed = self._reconcile(session)
                changed = self._fit_kind(session) or changed
            except (IndexFileError, RuntimeError, ValueError) as problem:
                if model is not None or self.path.exists():
                    log.warning("memory index: %s; rebuilding it from the database", problem)
                self._build(session, model)
                changed = True
        if changed:
            self.save()

    def catch_up(self, session: Session | None = None) -> None:
        """Apply what any process committed since the watermark: adds and forgets."""
        if session is None:
            with self._db.reading() as own:
                self.catch_up(own)
            return
        rows = session.execute(
            select(HistoryRow.id, HistoryRow.episode_id, HistoryRow.action, HistoryRow.detail)
            .where(HistoryRow.id > self._watermark)
            .order_by(HistoryRow.id)
        ).all()
        if not rows:
            return
        self._watermark = rows[-1].id
        added = [row.episode_id for row in rows if row.action == "add"]
        forgotten = [row.episode_id for row in rows if row.action == "forget"]
        reembedded = any(
            row.action == "update" and "embedding_model" in json.loads(row.detail) for row in rows
        )
        if reembedded:  # every vector changed
            self._build(session, _majority_model(session))
            self._unsaved += len(rows)
            return
        if self.index is not None:
            self.index.remove(forgotten)
        if added and self.model_in_use is None:
            first = session.get_one(EpisodeRow, added[0])
            if (first.embedding_model, first.embedding_dim) != (self.model, self.dim):
                self._start(first.embedding_model, first.embedding_dim)
        if self.index is not None:
            for ids, vectors in _vectors(session, self.model, self.index.dim, added):
                self.index.add(ids, vectors)
        self._unsaved += len(added) + len(forgotten)
        self._fit_kind(session)

    def rebuild(self) -> None:
        with self._db.reading() as session:
            self._watermark = session.scalar(select(func.max(HistoryRow.id))) or 0
            self._build(session, _majority_model(session))
        self.save()

    def checkpoint(self) -> None:
        """Save once enough changed; the geometric threshold keeps saves amortised O(1)."""
        size = 0 if self.index is None else len(self.index)
        if self._rekinded or self._unsaved >= max(self._config.index_save_every, size // 10):
            self.save()

    def save_if_changed(self) -> None:
        if self._unsaved:
            self.save()

    def save(self) -> None:
        """Write the index file, never over a later snapshot another process saved. With
        nothing left to index the file is removed: it would still hold forgotten vectors."""
        saved = self._serialised()
        with file_lock(self._lock_path):
            remove_stale_temp_files(self.path)
            if not self._newer_on_disk():
                if saved is None:
                    self.path.unlink(missing_ok=True)
                else:
                    write_index_file(self.path, *saved)
        self._unsaved = 0
        self._rekinded = False

    def _serialised(self) -> tuple[IndexHeader, memoryview] | None:
        if self.index is None or self.model is None or len(self.index) == 0:
            return None  # an empty HNSW index would still hold its emptied slots
        payload = self.index.payload()
        header = IndexHeader.describing(
            payload,
            store_id=self._store_id,
            kind=self.index.kind,
            model=self.model,
            dim=self.index.dim,
            watermark=self._watermark,
            tombstones=[],  # none since forgetting deletes in place; kept for the format
        )
        return header, payload

    def _newer_on_disk(self) -> bool:
        """Another process already saved a later snapshot of the same index."""
        try:
            on_disk = read_header(self.path)
        except IndexFileError:
            return False
        # under "auto" a snapshot of either kind serves: the opener fits it to the size
        wanted = self._config.index if self.index is None else self.index.kind
        return (
            on_disk.store_id == self._store_id
            and (self._config.index == "auto" or on_disk.kind == wanted)
            and (self.model is None or on_disk.model == self.model)
            and on_disk.watermark > self._watermark
        )

    def _check(self, header: IndexHeader, model: tuple[str, int] | None) -> None:
        if header.store_id != self._store_id:
            raise IndexFileError("index file belongs to another database")
        if self._config.index != "auto" and header.kind != self._config.index:
            raise IndexFileError(
                f"index file is {header.kind}, config asks for {self._config.index}"
            )
        if model is not None and (header.model, header.dim) != model:
            raise IndexFileError(f"index file holds {header.model} vectors, the store {model[0]}")
        if header.watermark > self._watermark:
            raise IndexFileError("index file is ahead of the database history")

    def _reconcile(self, session: Session) -> bool:
        """Add what the database has and the index lacks; drop what was forgotten."""
        assert self.index is not None
        live = set(
            session.scalars(
                select(EpisodeRow.id).where(
                    _LIVE,
                    EpisodeRow.embedding_model == self.model,
                    EpisodeRow.embedding_dim == self.index.dim,
                )
            )
        )
        missing = sorted(live - self.index.ids)
        extra = self.index.ids - live
        self.index.remove(extra)
        for ids, vectors in _vectors(session, self.model, self.index.dim, missing):
            self.index.add(ids, vectors)
        if missing or extra:
            log.info(
                "memory index: was %d item(s) behind and %d ahead of the database; repaired",
                len(missing),
                len(extra),
            )
        return bool(missing or extra)

    def _fit_kind(self, session: Session) -> bool:
        """Rebuild the index as the kind its size calls for, if it is not that kind
        already; True if it did. Under "auto" this is the switch between flat and HNSW."""
        if self.index is None or self.model is None:
            return False
        kind = self._config.index_kind_for(len(self.index), self.index.kind)
        if kind == self.index.kind:
            return False
        log.info(
            "memory index: %d items, rebuilding it as %s (was %s)",
            len(self.index),
            kind,
            self.index.kind,
        )
        self._build(session, (self.model, self.index.dim), kind)
        self._unsaved += 1
        self._rekinded = True
        return True

    @property
    def dim(self) -> int | None:
        return None if self.index is None else self.index.dim

    def _start(self, model: str, dim: int, kind: IndexKind | None = None) -> None:
        """An empty index for `model`, of `kind` (default: what an empty store gets)."""
        self.model = model
        self.index = VectorIndex(
            kind or self._config.index_kind_for(0),
            dim,
            hnsw_m=self._config.hnsw_m,
            ef_construction=self._config.hnsw_ef_construction,
            ef_search=self._config.hnsw_ef_search,
        )

    def _build(
        self, session: Session, model: tuple[str, int] | None, kind: IndexKind | None = None
    ) -> None:
        """The index of every live vector of `model`, from the database; of `kind`, by
        default the one their number calls for (the kind it was, near the threshold)."""
        before = None if self.index is None else self.index.kind
        self.index, self.model = None, None
        if model is not None:
            if kind is None:
                kind = self._config.index_kind_for(_live_count(session, *model), before)
            self._start(*model, kind)
            assert self.index is not None
            for ids, vectors in _vectors(session, model[0], model[1], None):
                self.index.add(ids, vectors)


def _majority_model(session: Session) -> tuple[str, int] | None:
    """The (model, dim) most live items were embedded with; the store refuses to mix."""
    count = func.count(EpisodeRow.id)
    row = session.execute(
        select(EpisodeRow.embedding_model, EpisodeRow.embedding_dim)
        .where(_LIVE)
        .group_by(EpisodeRow.embedding_model, EpisodeRow.embedding_dim)
        .order_by(count.desc())
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def _live_count(session: Session, model: str, dim: int) -> int:
    query = select(func.count(EpisodeRow.id)).where(
        _LIVE, EpisodeRow.embedding_model == model, EpisodeRow.embedding_dim == dim
    )
    return session.scalar(query) or 0


def _vectors(
    session: Session, model: str | None, dim: int, ids: Sequence[int] | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Stored vectors of live items of `model` in chunks, all of them when `ids` is None."""
    chunks: Iterator[Sequence[int] | None] = (
        iter([None]) if ids is None else (ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK))
    )
    for chunk in chunks:
        query = select(EpisodeRow.id, EpisodeRow.embedding).where(
            _LIVE, EpisodeRow.embedding_model == model, EpisodeRow.embedding_dim == dim
        )
        if chunk is not None:
            query = query.where(EpisodeRow.id.in_(chunk))
        result = session.execute(query.order_by(EpisodeRow.id).execution_options(yield_per=_CHUNK))
        for part in result.partitions():
            if part:
                yield (
                    np.array([row.id for row in part], dtype=np.int64),
                    np.stack([unpack(row.embedding, dim) for row in part]),
                )
