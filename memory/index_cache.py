"""The FAISS index as a derived cache of the database.

The database is the truth: writers commit SQL first, and every process then replays the
history table (the change feed) past its watermark into its in-memory index. The index file
only saves rebuild time; on open it is checked against the database and repaired, or
rebuilt from the stored vectors when it is missing, damaged or built for something else.

A forgotten item's vector must leave memory and the file for good: a flat index deletes it
in place; HNSW can only tombstone it, so an HNSW index is rebuilt without it instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from memory.config import MemoryConfig
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
                self.index = VectorIndex.from_bytes(
                    payload, header.tombstones, self._config.hnsw_ef_search
                )
                if self.index.kind != header.kind:
                    raise IndexFileError("index file header and payload disagree")
                if header.tombstones:  # saved by an earlier version
                    raise IndexFileError("index file still holds forgotten vectors")
                self.model = header.model
                changed = self._reconcile(session)
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
        if reembedded or not self._remove(forgotten):
            # every vector changed, or HNSW would only tombstone the forgotten ones
            self._build(session, _majority_model(session))
            self._unsaved += len(rows)
            return
        if added and self.model_in_use is None:
            first = session.get_one(EpisodeRow, added[0])
            if (first.embedding_model, first.embedding_dim) != (self.model, self.dim):
                self._start(first.embedding_model, first.embedding_dim)
        if self.index is not None:
            for ids, vectors in _vectors(session, self.model, self.index.dim, added):
                self.index.add(ids, vectors)
        self._unsaved += len(added) + len(forgotten)

    def rebuild(self) -> None:
        with self._db.reading() as session:
            self._watermark = session.scalar(select(func.max(HistoryRow.id))) or 0
            self._build(session, _majority_model(session))
        self.save()

    def checkpoint(self) -> None:
        """Save once enough changed; the geometric threshold keeps saves amortised O(1)."""
        size = 0 if self.index is None else len(self.index)
        if self._unsaved >= max(self._config.index_save_every, size // 10):
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

    def _serialised(self) -> tuple[IndexHeader, bytes] | None:
        if self.index is None or self.model is None:
            return None
        payload = self.index.to_bytes()
        header = IndexHeader.describing(
            payload,
            store_id=self._store_id,
            kind=self.index.kind,
            model=self.model,
            dim=self.index.dim,
            watermark=self._watermark,
            tombstones=sorted(self.index.tombstones),
        )
        return header, payload

    def _newer_on_disk(self) -> bool:
        """Another process already saved a later snapshot of the same index."""
        try:
            on_disk = read_header(self.path)
        except IndexFileError:
            return False
        return (
            on_disk.store_id == self._store_id
            and on_disk.kind == self._config.index
            and (self.model is None or on_disk.model == self.model)
            and on_disk.watermark > self._watermark
        )

    def _check(self, header: IndexHeader, model: tuple[str, int] | None) -> None:
        if header.store_id != self._store_id:
            raise IndexFileError("index file belongs to another database")
        if header.kind != self._config.index:
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
        if not self._remove(extra):
            self._build(session, _majority_model(session))
            return True
        for ids, vectors in _vectors(session, self.model, self.index.dim, missing):
            self.index.add(ids, vectors)
        if missing or extra:
            log.info(
                "memory index: was %d item(s) behind and %d ahead of the database; repaired",
                len(missing),
                len(extra),
            )
        return bool(missing or extra)

    def _remove(self, ids: Collection[int]) -> bool:
        """Delete the ids' vectors; False when the index can only tombstone them (HNSW)
        and must be rebuilt instead."""
        if self.index is None or not any(i in self.index for i in ids):
            return True
        if self.index.kind == "hnsw":
            return False
        self.index.remove(ids)
        return True

    @property
    def dim(self) -> int | None:
        return None if self.index is None else self.index.dim

    def _start(self, model: str, dim: int) -> None:
        self.model = model
        self.index = VectorIndex(
            self._config.index,
            dim,
            hnsw_m=self._config.hnsw_m,
            ef_construction=self._config.hnsw_ef_construction,
            ef_search=self._config.hnsw_ef_search,
        )

    def _build(self, session: Session, model: tuple[str, int] | None) -> None:
        self.index, self.model = None, None
        if model is not None:
            self._start(*model)
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
