"""MemoryStore: the one entry point to episodic memory, sessions, transcripts and users.

Every write commits to the database first; the FAISS index follows by replaying the history
table, so a crash between the two loses nothing (see index_cache.py).

A store acts for one user (the owner, unless opened `for_user`): every read, search and
write sees that user's sessions and memories alone, and another user's read as absent.
"""

from __future__ import annotations

import builtins
import logging
import os
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import TextIO

import numpy as np
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, undefer

from eyla.errors import EylaError
from memory import audit, scoring, transcript, transfer, users
from memory.adding import Inserter, embed_items, exact_cosine
from memory.config import MemoryConfig
from memory.db import Database, database_url
from memory.embedder import Embedder, SentenceTransformerEmbedder
from memory.index import VectorIndex
from memory.index_cache import IndexCache
from memory.locking import file_lock
from memory.records import (
    QUARANTINED,
    QUOTABLE,
    Episode,
    Hit,
    ImportReport,
    MemoryStats,
    MessageRecord,
    NewEpisode,
    SessionInfo,
    UserInfo,
)
from memory.schema import OWNER_ID, EpisodeRow, MessageRow, SessionRow, utcnow
from memory.validation import check_provenances, check_text, new_episode
from memory.vectors import pack, unit_rows

log = logging.getLogger(__name__)

_LIVE = EpisodeRow.forgotten_at.is_(None)
_WRITE_CHUNK = 512  # items per transaction when adding many
_PRIVATE_DIR = 0o700  # the data dir and everything in it are the user's alone
_PRIVATE_FILE = 0o600


class MemoryStore:
    """Open with `MemoryStore.open(home, config)`; close, or use as a context manager."""

    def __init__(
        self,
        db: Database,
        cache: IndexCache,
        config: MemoryConfig,
        embedder: Embedder | None,
        user_id: int = OWNER_ID,
    ) -> None:
        self._db = db
        self._cache = cache
        self._config = config
        self._embedder = embedder
        self.user_id = user_id
        # a view made by `for_user` shares the database and index, and leaves them open
        self._owns_resources = True
        # items this user's searches and dedup never see, as of history id `_hidden_at`;
        # see `_foreign`
        self._hidden, self._hidden_at = np.empty(0, dtype=np.int64), -1
        self._others = np.empty(0, dtype=np.int64)

    @classmethod
    def open(
        cls, home: Path, config: MemoryConfig | None = None, embedder: Embedder | None = None
    ) -> MemoryStore:
        """Create or migrate the database, then load and reconcile the index. `embedder`
        None means `config.embedder`, loaded on first use (list/forget/export never load
        it)."""
        config = config or MemoryConfig()
        home = Path(home).expanduser()
        cache_dir = home / "memory"
        try:
            cache_dir.mkdir(parents=True, exist_ok=True, mode=_PRIVATE_DIR)
            for directory in (home, cache_dir):  # mkdir's mode is masked, and older dirs
                os.chmod(directory, _PRIVATE_DIR)
        except OSError as exc:
            raise EylaError(f"cannot create the memory directory {cache_dir}: {exc}") from exc
        db = Database(database_url(home, config.db_url), config.busy_timeout_s)
        # One lock for changes to the store's structure: migrations and index files.
        lock = cache_dir / "store.lock"
        with file_lock(lock):
            db.migrate()
        cache = IndexCache(db, cache_dir / "episodes.faiss", lock, config)
        cache.open()
        store = cls(db, cache, config, embedder)
        store._warn_if_mixed()
        return store

    def for_user(self, user_id: int) -> MemoryStore:
        """This store as `user_id` sees it: the same database, index and embedder. Close
        the store it came from, not the view."""
        with self._db.reading() as session:
            users.existing(session, user_id)
        view = MemoryStore(self._db, self._cache, self._config, self._embedder_loaded(), user_id)
        view._owns_resources = False
        return view

    def close(self) -> None:
        if self._owns_resources:
            self._cache.save_if_changed()
            self._db.dispose()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- episodes ---------------------------------------------------------------------

    def add(
        self,
        text: str,
        provenance: str,
        session_id: int | None = None,
        importance: float = 0.5,
        message_id: int | None = None,
    ) -> Episode | None:
        """Store `text`, taken from transcript message `message_id` if given; returns the new
        episode, or None when it duplicates a stored one (same normalised text, or a
        near-duplicate). The stored one is then refreshed instead: last access set to now,
        importance raised to the new value if higher."""
        item = new_episode(
            text=text,
            provenance=provenance,
            session_id=session_id,
            importance=importance,
            message_id=message_id,
        )
        return self.add_many([item])[0]

    def add_many(self, items: Sequence[NewEpisode]) -> builtins.list[Episode | None]:
        """`add` for many items, in batched transactions; dedups within the batch too."""
        for item in items:
            check_text(item.text, "memory text", self._config.max_text_chars)
        results: builtins.list[Episode | None] = []
        for start in range(0, len(items), _WRITE_CHUNK):
            chunk = items[start : start + _WRITE_CHUNK]
            vectors = embed_items(chunk, self._matching_embedder())
            results.extend(self._write_chunk(chunk, vectors))
            self._cache.catch_up()
            self._cache.checkpoint()
        return results

    def search(
        self,
        query: str,
        k: int | None = None,
        session_id: int | None = None,
        provenance: Collection[str] | None = None,
    ) -> builtins.list[Hit]:
        """The k best items by relevance + recency + importance, filtered inside FAISS.

        Claims about Eyla (provenance `about_eyla`) are found only when `provenance` names
        them: recall quotes search results to the model as true. Only the `candidate_pool`
        most relevant items compete on the full score, so a recent or important but
        unrelated memory never displaces a relevant one. Returned items have their last
        access set to now; each Hit shows the item as scored.
        """
        k = self._config.top_k if k is None else k
        if k < 1:
            raise EylaError("k must be at least 1")
        check_text(query, "search query", self._config.max_text_chars)
        if provenance is not None:
            check_provenances(provenance)
        self._cache.catch_up()
        index = self._cache.index
        if index is None or len(index) == 0:
            return []  # without loading the embedder
        embedder = self._matching_embedder()
        allowed, excluded = None, np.empty(0, dtype=np.int64)
        if session_id is not None or provenance is not None:
            allowed = self._allowed_ids(session_id, provenance)
        else:
            excluded = self._hidden_ids()
        query_vector = unit_rows(embedder.embed([query]), embedder.dim)
        pool = max(k, self._config.candidate_pool)
        _, ids = index.search(query_vector, pool, allowed, excluded.tolist())
        candidates = [int(i) for i in ids[0] if i >= 0]
        with self._db.reading() as session:
            rows = list(
                session.scalars(
                    select(EpisodeRow)
                    .options(undefer(EpisodeRow.embedding))
                    # checked again here: the index filter only keeps the pool full
                    .where(
                        _LIVE,
                        _searchable(provenance),
                        EpisodeRow.user_id == self.user_id,
                        EpisodeRow.id.in_(candidates),
                    )
                )
            )
            # the index finds the candidates; their stored float32 vectors score them
            # exactly (a flat index's own scores are bfloat16-close)
            relevance = {row.id: exact_cosine(row, query_vector[0]) for row in rows}
            hits = scoring.rank(rows, relevance, self._config, utcnow(), k)
        self._touch([hit.id for hit in hits])
        return hits

    def forget(self, episode_id: int, with_message: bool = False) -> None:
        """Erase the item, and with `with_message` the transcript message it came from.

        Its text, vector and content hash are overwritten (secure_delete zeroes the old
        bytes; the write-ahead log is then emptied) and its vector leaves the index and the
        index file now. The emptied row stays: the audit history refers to it. Forgetting
        a forgotten item erases nothing more, but still deletes its message if asked.
        """
        with self._db.writing() as session:
            row = self._own_episode(session, episode_id)
            erased = row.forgotten_at is None
            if erased:
                _erase(session, row)
            message_id = row.message_id if with_message else None
            if message_id is not None:
                transcript.delete_message(session, self.user_id, message_id)
        if erased:
            self._cache.catch_up()
            self._cache.save()
        if erased or message_id is not None:
            self._db.scrub_replaced_rows()

    def delete_message(self, message_id: int) -> None:
        """Delete one transcript message for good (its bytes are zeroed, as in `forget`);
        memories taken from it stay, no longer linked to it."""
        with self._db.writing() as session:
            transcript.delete_message(session, self.user_id, message_id)
        self._db.scrub_replaced_rows()

    def get(self, episode_id: int) -> Episode:
        with self._db.reading() as session:
            return Episode.model_validate(self._own_episode(session, episode_id))

    def list(
        self,
        session_id: int | None = None,
        provenance: Collection[str] | None = None,
        include_forgotten: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Episode]:
        """Items newest first."""
        if provenance is not None:
            check_provenances(provenance)
        query = (
            select(EpisodeRow)
            .where(EpisodeRow.user_id == self.user_id)
            .order_by(EpisodeRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        if not include_forgotten:
            query = query.where(_LIVE)
        if session_id is not None:
            query = query.where(EpisodeRow.session_id == session_id)
        if provenance is not None:
            query = query.where(EpisodeRow.provenance.in_(provenance))
        with self._db.reading() as session:
            return [Episode.model_validate(row) for row in session.scalars(query)]

    def export_jsonl(self, path: Path) -> int:
        """Write every live item, with its session and vector, one JSON line each, to a file
        only its owner can read (forgotten items have nothing left to write)."""
        count = 0
        with self._db.reading() as session, _private_file(Path(path)) as out:
            rows = session.execute(
                select(EpisodeRow, SessionRow)
                .options(undefer(EpisodeRow.embedding))
                .outerjoin(SessionRow, SessionRow.id == EpisodeRow.session_id)
                .where(_LIVE, EpisodeRow.user_id == self.user_id)
                .order_by(EpisodeRow.id)
                .execution_options(yield_per=1000)
            )
            for episode, owner in rows:
                out.write(transfer.export_line(episode, owner) + "\n")
                count += 1
        return count

    def import_jsonl(self, path: Path) -> ImportReport:
        """Add the items of an export (or any JSONL with a `text` per line). Sessions are
        matched by title and creation time, created when absent; duplicates are skipped.
        The file is read twice, a line at a time: a first pass checks every line, so a bad
        file imports nothing, without holding the file in memory."""
        path = Path(path)
        owners = {
            (line.session.title, line.session.created_at)
            for line in self._import_lines(path)
            if line.session
        }
        self._matching_embedder()  # refuse before creating any session
        with self._db.writing() as session:
            sessions = {key: _session_for(session, self.user_id, *key) for key in owners}
        added = total = 0
        lines = self._import_lines(path)
        while chunk := list(islice(lines, _WRITE_CHUNK)):
            items = [
                NewEpisode(
                    text=line.text,
                    provenance=line.provenance,
                    session_id=sessions[(line.session.title, line.session.created_at)]
                    if line.session
                    else None,
                    importance=line.importance,
                    created_at=line.created_at,
                    last_accessed_at=line.last_accessed_at,
                    embedding=line.vector_bytes(),
                    embedding_model=line.embedding_model,
                )
                for line in chunk
            ]
            added += sum(result is not None for result in self.add_many(items))
            total += len(items)
        return ImportReport(added=added, duplicates=total - added)

    def stats(self) -> MemoryStats:
        """The user's items, sessions and messages; the index's figures are the store's."""
        mine = EpisodeRow.user_id == self.user_id
        with self._db.reading() as session:
            models = session.execute(
                select(EpisodeRow.embedding_model, EpisodeRow.embedding_dim, func.count())
                .where(_LIVE, mine)
                .group_by(EpisodeRow.embedding_model, EpisodeRow.embedding_dim)
            ).all()
            forgotten = session.scalar(
                select(func.count()).where(EpisodeRow.forgotten_at.is_not(None), mine)
            )
            sessions = session.scalar(
                select(func.count()).where(SessionRow.user_id == self.user_id)
            )
            messages = session.scalar(
                select(func.count())
                .select_from(MessageRow)
                .join(SessionRow, SessionRow.id == MessageRow.session_id)
                .where(SessionRow.user_id == self.user_id)
            )
        self._cache.catch_up()
        index = self._cache.index
        return MemoryStats(
            episodes=sum(count for _, _, count in models),
            forgotten=forgotten or 0,
            sessions=sessions or 0,
            messages=messages or 0,
            embedding_models={f"{model} ({dim}-d)": count for model, dim, count in models},
            index_kind=_kind_shown(self._config.index, index),
            index_size=0 if index is None else len(index),
            index_empty_slots=0 if index is None else index.empty_slots,
            database=self._db.display_url,
            index_path=str(self._cache.path),
        )

    def rebuild(self, reembed: bool = False) -> None:
        """Rebuild the index from the stored vectors; with `reembed`, first re-embed every
        live item with the configured embedder (the way to switch embedding models)."""
        if reembed:
            self._reembed()
        self._cache.rebuild()
        self._warn_if_mixed()

    # -- sessions and transcripts -------------------------------------------------------

    def create_session(self, title: str = "") -> SessionInfo:
        with self._db.writing() as session:
            return transcript.create(session, self.user_id, title)

    def list_sessions(self) -> builtins.list[SessionInfo]:
        with self._db.reading() as session:
            return transcript.all_sessions(session, self.user_id)

    def rename_session(self, session_id: int, title: str) -> None:
        with self._db.writing() as session:
            transcript.rename(session, self.user_id, session_id, title)
        self._db.scrub_replaced_rows()  # the old title may be private too

    def delete_session(self, session_id: int) -> None:
        """Hard delete: the session and its transcript. Its memories are kept (forget them
        one by one) and no longer belong to a session."""
        with self._db.writing() as session:
            transcript.delete(session, self.user_id, session_id)
        self._db.scrub_replaced_rows()

    def append_message(self, session_id: int, role: str, content: str) -> int:
        with self._db.writing() as session:
            return transcript.append(session, self.user_id, session_id, role, content)

    def messages(self, session_id: int, last: int | None = None) -> builtins.list[MessageRecord]:
        """The session's transcript in order; with `last`, only its newest `last` messages."""
        with self._db.reading() as session:
            return transcript.messages(session, self.user_id, session_id, last)

    # -- users --------------------------------------------------------------------------

    def add_user(self, name: str) -> tuple[UserInfo, str]:
        """A new user, and their API key: shown now, and never again."""
        with self._db.writing() as session:
            return users.add(session, name)

    def list_users(self) -> builtins.list[UserInfo]:
        with self._db.reading() as session:
            return users.live(session)

    def user_named(self, name: str) -> UserInfo:
        with self._db.reading() as session:
            row = users.by_name(session, name)
            if row is None:
                raise EylaError(f"no user {name!r}")
            return users.info(row)

    def user_for_key(self, key: str) -> int | None:
        with self._db.reading() as session:
            return users.by_key(session, key)

    def any_user_key(self) -> bool:
        with self._db.reading() as session:
            return users.any_key(session)

    def user_exists(self, user_id: int) -> bool:
        with self._db.reading() as session:
            return users.exists(session, user_id)

    def remove_user(self, name: str) -> int:
        """Revoke the user's key and erase what they told Eyla: every memory forgotten as
        `forget` does, every session and transcript deleted. Returns the items forgotten."""
        with self._db.writing() as session:
            row = users.by_name(session, name)
            if row is None:
                raise EylaError(f"no user {name!r}")
            users.retire(session, row)
            items = builtins.list(
                session.scalars(select(EpisodeRow).where(_LIVE, EpisodeRow.user_id == row.id))
            )
            for item in items:
                _erase(session, item)
            # messages go with their sessions (ON DELETE CASCADE)
            session.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
        self._cache.catch_up()
        self._cache.save()
        self._db.scrub_replaced_rows()
        return len(items)

    # -- internals ----------------------------------------------------------------------

    def _import_lines(self, path: Path) -> Iterator[transfer.ExportedEpisode]:
        return transfer.read_lines(path, self._config.max_text_chars)

    def _embedder_loaded(self) -> Embedder:
        if self._embedder is None:
            self._embedder = SentenceTransformerEmbedder(
                self._config.embedder, self._config.embed_batch_size
            )
        return self._embedder

    def _matching_embedder(self) -> Embedder:
        """The embedder, after checking the store's vectors came from the same model."""
        self._cache.catch_up()
        embedder = self._embedder_loaded()
        stored = self._cache.model_in_use
        if stored is not None and stored != (embedder.name, embedder.dim):
            raise EylaError(
                f"the memory store holds {stored[0]} ({stored[1]}-d) embeddings but the "
                f"configured embedder is {embedder.name} ({embedder.dim}-d); set "
                f"memory.embedder back, or run `eyla memory rebuild --reembed` to re-embed "
                f"every item with {embedder.name}"
            )
        return embedder

    def _write_chunk(
        self, items: Sequence[NewEpisode], vectors: np.ndarray
    ) -> builtins.list[Episode | None]:
        embedder = self._embedder_loaded()
        failures = 0
        while True:
            try:
                with self._db.writing() as session:
                    self._cache.catch_up(session)
                    users.existing(session, self.user_id)
                    for session_id in {item.session_id for item in items} - {None}:
                        transcript.existing(session, self.user_id, session_id)
                    for message_id in {item.message_id for item in items} - {None}:
                        transcript.existing_message(session, self.user_id, message_id)
                    inserter = Inserter(
                        session,
                        self._cache.index,
                        embedder,
                        self._config.dedup,
                        self.user_id,
                        self._others_ids().tolist(),
                    )
                    rows = inserter.insert(items, vectors)
                    return [None if row is None else Episode.model_validate(row) for row in rows]
            except IntegrityError:
                # On backends other than SQLite two writers can race past the duplicate
                # check; the unique index rejects one, and its retry sees the twin.
                failures += 1
                if failures == 3:
                    raise

    def _allowed_ids(
        self, session_id: int | None, provenance: Collection[str] | None
    ) -> np.ndarray:
        query = select(EpisodeRow.id).where(
            _LIVE, _searchable(provenance), EpisodeRow.user_id == self.user_id
        )
        if session_id is not None:
            query = query.where(EpisodeRow.session_id == session_id)
        with self._db.reading() as session:
            return np.fromiter(session.scalars(query), dtype=np.int64)

    def _hidden_ids(self) -> np.ndarray:
        """Ids of the live items a plain search must not return: this user's claims about
        Eyla and every other user's items (with one user, the claims alone)."""
        return self._foreign()[1]

    def _others_ids(self) -> np.ndarray:
        """Live items of other users: never a duplicate of this user's new item."""
        return self._foreign()[0]

    def _foreign(self) -> tuple[np.ndarray, np.ndarray]:
        """(other users' ids, those plus the claims about Eyla), read again only once
        the history has moved on (every add and forget is in it): most searches and adds
        then skip the query."""
        if self._hidden_at != self._cache.watermark:
            self._hidden_at = self._cache.watermark
            mine = self.user_id
            # Each on one indexed column alone, so that it reads the index and not the
            # table, whose rows carry the vectors (a scan took 60 ms at 100,000 items).
            # Forgotten ids and other users' claims may come along: excluding an id that
            # is not in the index, or already excluded, changes nothing.
            others = select(EpisodeRow.id).where(
                (EpisodeRow.user_id < mine) | (EpisodeRow.user_id > mine)
            )
            claims = select(EpisodeRow.id).where(EpisodeRow.provenance == QUARANTINED)
            with self._db.reading() as session:
                self._others = np.fromiter(session.scalars(others), dtype=np.int64)
                claimed = np.fromiter(session.scalars(claims), dtype=np.int64)
            self._hidden = np.union1d(self._others, claimed)
        return self._others, self._hidden

    def _own_episode(self, session: Session, episode_id: int) -> EpisodeRow:
        row = session.get(EpisodeRow, episode_id)
        if row is None or row.user_id != self.user_id:
            raise EylaError(f"no memory #{episode_id}")
        return row

    def _touch(self, ids: Sequence[int]) -> None:
        if ids:
            with self._db.writing() as session:
                session.execute(
                    update(EpisodeRow)
                    .where(EpisodeRow.id.in_(ids))
                    .values(last_accessed_at=utcnow())
                )

    def _reembed(self) -> None:
        """Replace every vector not made by the configured embedder, a chunk at a time;
        the model runs outside the write transaction so other writers are not held up."""
        embedder = self._embedder_loaded()
        with self._db.reading() as session:
            stale = session.execute(
                select(EpisodeRow.id, EpisodeRow.text).where(
                    _LIVE,
                    (EpisodeRow.embedding_model != embedder.name)
                    | (EpisodeRow.embedding_dim != embedder.dim),
                )
            ).all()
        for start in range(0, len(stale), _WRITE_CHUNK):
            chunk = stale[start : start + _WRITE_CHUNK]
            vectors = unit_rows(embedder.embed([text for _, text in chunk]), embedder.dim)
            with self._db.writing() as session:
                for (episode_id, _), vector in zip(chunk, vectors, strict=True):
                    row = session.get_one(EpisodeRow, episode_id)
                    old = row.embedding_model
                    row.embedding = pack(vector)
                    row.embedding_model, row.embedding_dim = embedder.name, embedder.dim
                    audit.record(session, row.id, "update", embedding_model=[old, embedder.name])

    def _warn_if_mixed(self) -> None:
        with self._db.reading() as session:
            models = session.execute(
                select(EpisodeRow.embedding_model, EpisodeRow.embedding_dim).where(_LIVE).distinct()
            ).all()
        if len(models) > 1:
            names = ", ".join(f"{model} ({dim}-d)" for model, dim in models)
            log.warning(
                "memory store mixes embedding models (%s); only %s items are searchable "
                "until `eyla memory rebuild --reembed`",
                names,
                self._cache.model,
            )


def _kind_shown(setting: str, index: VectorIndex | None) -> str:
    """The kind searched, and under "auto" that it was chosen by size: "hnsw (auto)"."""
    if index is None:
        return setting
    return f"{index.kind} (auto)" if setting == "auto" else index.kind


def _searchable(provenance: Collection[str] | None) -> ColumnElement[bool]:
    """Rows a search may return: the provenances asked for, or every quotable one."""
    return EpisodeRow.provenance.in_(QUOTABLE if provenance is None else provenance)


@contextmanager
def _private_file(path: Path) -> Iterator[TextIO]:
    """A text file for writing that only its owner can read, from its first byte."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _PRIVATE_FILE)
    except OSError as exc:
        raise EylaError(f"cannot write {path}: {exc}") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(fd, _PRIVATE_FILE)  # O_CREAT's mode applies to a new file only
        yield out


def _erase(session: Session, row: EpisodeRow) -> None:
    """Blank a live item's text, hash and vector (secure_delete zeroes the old bytes) and
    record the forget, which takes its vector out of every process's index."""
    row.text, row.content_hash, row.embedding = "", "", b""
    row.forgotten_at = utcnow()
    audit.record(session, row.id, "forget")


def _session_for(session: Session, user_id: int, title: str, created_at: datetime) -> int:
    existing = session.scalars(
        select(SessionRow.id).where(
            SessionRow.user_id == user_id,
            SessionRow.title == title,
            SessionRow.created_at == created_at,
        )
    ).first()
    if existing is not None:
        return existing
    row = SessionRow(user_id=user_id, title=title, created_at=created_at, updated_at=created_at)
    session.add(row)
    session.flush()
    return row.id
