"""Retrieval score = relevance + recency + importance, each weighted (Generative Agents)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from memory.config import MemoryConfig, RetrievalWeights
from memory.records import Episode, Hit
from memory.schema import EpisodeRow


def recency(last_accessed: datetime, now: datetime, half_life_hours: float) -> float:
    """1.0 when just accessed, halving every `half_life_hours` since."""
    hours = max(0.0, (now - last_accessed).total_seconds() / 3600.0)
    return 0.5 ** (hours / half_life_hours)


def combined(
    weights: RetrievalWeights, relevance: float, recency: float, importance: float
) -> float:
    return (
        weights.relevance * relevance + weights.recency * recency + weights.importance * importance
    )


def rank(
    rows: Iterable[EpisodeRow],
    relevance: dict[int, float],
    config: MemoryConfig,
    now: datetime,
    k: int,
) -> list[Hit]:
    """The k best candidates by combined score; ties go to the older item."""
    scored = []
    for row in rows:
        fresh = recency(row.last_accessed_at, now, config.recency_half_life_hours)
        score = combined(config.weights, relevance[row.id], fresh, row.importance)
        scored.append((-score, row.id, fresh, row))
    scored.sort(key=lambda entry: entry[:2])
    return [
        Hit(
            **Episode.model_validate(row).model_dump(),
            score=-negated,
            relevance=relevance[row.id],
            recency=fresh,
        )
        for negated, _, fresh, row in scored[:k]
    ]
