"""The write path for new items: embed them, drop duplicates, insert the rest.

A duplicate is never stored; the stored twin is refreshed instead (see `_refresh`). Twins
are looked for among live rows (same normalised text), in the index (near-duplicates:
close in meaning AND wording) and earlier in the same batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from memory import audit, dedup
from memory.config import DedupConfig
from memory.embedder import Embedder
from memory.index import SCORE_ERROR, VectorIndex
from memory.records import NewEpisode
from memory.schema import EpisodeRow, utcnow
from memory.vectors import pack, unit_rows, unpack

_LIVE = EpisodeRow.forgotten_at.is_(None)
_NEAR_CANDIDATES = 4  # nearest stored items checked for near-duplication


def embed_items(items: Sequence[NewEpisode], embedder: Embedder) -> np.ndarray:
    """Unit vectors for the items: an imported vector is reused, bit for bit, when our
    embedder made it; the rest are embedded."""
    vectors = np.zeros((len(items), embedder.dim), dtype=np.float32)
    to_embed = []
    for i, item in enumerate(items):
        reused = _reusable_vector(item, embedder)
        if reused is None:
            to_embed.append(i)
        else:
            vectors[i] = reused
    if to_embed:
        fresh = embedder.embed([items[i].text for i in to_embed])
        vectors[to_embed] = unit_rows(fresh, embedder.dim)
    return vectors


class Inserter:
    """Inserts one batch for `user_id` inside the caller's write transaction. Twins are
    looked for among that user's items alone: `others` are every other user's live ids."""

    def __init__(
        self,
        session: Session,
        index: VectorIndex | None,
        embedder: Embedder,
        rules: DedupConfig,
        user_id: int,
        others: Sequence[int] = (),
    ) -> None:
        self._session = session
        self._index = index
        self._embedder = embedder
        self._rules = rules
        self._user = user_id
        self._others = others

    def insert(self, items: Sequence[NewEpisode], vectors: np.ndarray) -> list[EpisodeRow | None]:
        """One row per new item, None where the item duplicated another."""
        now = utcnow()
        hashes = [dedup.content_hash(item.text) for item in items]
        stored = {
            row.content_hash: row
            for row in self._session.scalars(
                select(EpisodeRow).where(
                    _LIVE,
                    EpisodeRow.user_id == self._user,
                    EpisodeRow.content_hash.in_(set(hashes)),
                )
            )
        }
        near = self._near_duplicates(items, vectors)
        fresh: dict[int, EpisodeRow] = {}  # position in `items` -> new row
        results: list[EpisodeRow | None] = []
        for i, item in enumerate(items):
            twin = (
                stored.get(hashes[i])
                or near.get(i)
                or self._twin_in_batch(i, items, vectors, hashes, fresh)
            )
            if twin is not None:
                _refresh(self._session, twin, item, now)
                results.append(None)
                continue
            fresh[i] = self._new_row(item, hashes[i], vectors[i], now)
            results.append(fresh[i])
        self._session.flush()  # assigns ids
        for row in fresh.values():
            audit.record(
                self._session,
                row.id,
                "add",
                provenance=row.provenance,
                session_id=row.session_id,
                importance=row.importance,
            )
        return results

    def _new_row(
        self, item: NewEpisode, content_hash: str, vector: np.ndarray, now: datetime
    ) -> EpisodeRow:
        row = EpisodeRow(
            user_id=self._user,
            text=item.text,
            content_hash=content_hash,
            provenance=item.provenance,
            session_id=item.session_id,
            message_id=item.message_id,
            importance=item.importance,
            created_at=item.created_at or now,
            last_accessed_at=item.last_accessed_at or item.created_at or now,
            embedding=pack(vector),
            embedding_model=self._embedder.name,
            embedding_dim=self._embedder.dim,
        )
        self._session.add(row)
        return row

    def _near_duplicates(
        self, items: Sequence[NewEpisode], vectors: np.ndarray
    ) -> dict[int, EpisodeRow]:
        """Live rows close to a new item in meaning and in wording, by item position."""
        if not self._rules.near or self._index is None or len(self._index) == 0:
            return {}
        scores, ids = self._index.search(vectors, _NEAR_CANDIDATES, excluded=self._others)
        # index scores may be off by SCORE_ERROR: anything that could reach the threshold
        # is checked against the stored vector
        close = sorted(
            (i, int(episode_id))
            for i in range(len(items))
            for episode_id, score in zip(ids[i], scores[i], strict=True)
            if episode_id >= 0 and score >= self._rules.cosine - SCORE_ERROR
        )
        if not close:
            return {}
        rows = {
            row.id: row
            for row in self._session.scalars(
                select(EpisodeRow)
                .options(undefer(EpisodeRow.embedding))
                .where(
                    _LIVE,
                    EpisodeRow.user_id == self._user,
                    EpisodeRow.id.in_({e for _, e in close}),
                )
            )
        }
        found: dict[int, EpisodeRow] = {}
        for i, episode_id in close:
            row = rows.get(episode_id)
            if (
                row is not None
                and i not in found
                and exact_cosine(row, vectors[i]) >= self._rules.cosine
                and self._same_words(items[i].text, row.text)
            ):
                found[i] = row
        return found

    def _twin_in_batch(
        self,
        i: int,
        items: Sequence[NewEpisode],
        vectors: np.ndarray,
        hashes: Sequence[str],
        fresh: dict[int, EpisodeRow],
    ) -> EpisodeRow | None:
        for j, row in fresh.items():
            if hashes[j] == hashes[i]:
                return row
            if (
                self._rules.near
                and float(vectors[i] @ vectors[j]) >= self._rules.cosine
                and self._same_words(items[i].text, items[j].text)
            ):
                return row
        return None

    def _same_words(self, a: str, b: str) -> bool:
        overlap = dedup.token_overlap(dedup.tokens(a), dedup.tokens(b))
        return overlap >= self._rules.token_overlap


def exact_cosine(row: EpisodeRow, unit_vector: np.ndarray) -> float:
    """Cosine of a unit vector with the row's stored (unit, float32) embedding."""
    return float(unpack(row.embedding, row.embedding_dim) @ unit_vector)


def _refresh(session: Session, row: EpisodeRow, telling: NewEpisode, now: datetime) -> None:
    """A repeated fact is as fresh as its latest telling (an import keeps its own times)
    and as important as its most important one."""
    told_at = telling.last_accessed_at or telling.created_at or now
    row.last_accessed_at = max(row.last_accessed_at, told_at)
    if telling.importance > row.importance:
        audit.record(session, row.id, "update", importance=[row.importance, telling.importance])
        row.importance = telling.importance


def _reusable_vector(item: NewEpisode, embedder: Embedder) -> np.ndarray | None:
    if item.embedding is None or item.embedding_model != embedder.name:
        return None
    if len(item.embedding) != 4 * embedder.dim:
        return None
    vector = unpack(item.embedding, embedder.dim)
    norm = float(np.linalg.norm(vector))
    return vector if np.isfinite(norm) and abs(norm - 1.0) < 1e-3 else None
