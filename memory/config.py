"""Memory settings. Kept free of `eyla` imports so `eyla.config.Settings` can embed it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

IndexKind = Literal["flat", "hnsw"]  # what an index file holds
# what the config may ask for: a kind, or "auto" to choose it by the store's size
IndexSetting = Literal["auto", "flat", "hnsw"]


class RetrievalWeights(BaseModel):
    """Weights of the three score components (Generative Agents style)."""

    relevance: float = Field(1.0, ge=0.0)
    recency: float = Field(0.25, ge=0.0)
    importance: float = Field(0.25, ge=0.0)


class DedupConfig(BaseModel):
    """The same text (after Unicode and case normalisation) is never stored twice. A
    near-duplicate needs BOTH thresholds met: cosine alone merges facts that differ in one
    word ("my dog is Pixel" / "my dog is Rex")."""

    near: bool = True
    cosine: float = Field(0.95, ge=0.0, le=1.0)
    token_overlap: float = Field(0.8, ge=0.0, le=1.0)


class MemoryConfig(BaseModel):
    """Everything episodic memory can be told; `eyla.config.Settings.memory`, so e.g.
    EYLA_MEMORY__INDEX=hnsw or `[memory]` in eyla.toml set it."""

    db_url: str | None = Field(
        None, description="SQLAlchemy URL; None means SQLite at <home>/eyla.db (WAL)."
    )
    index: IndexSetting = Field(
        "auto",
        description="'auto': flat up to `hnsw_from_items` items, HNSW from there on; or a kind.",
    )
    hnsw_from_items: int = Field(
        20_000,
        ge=2,
        description="Under 'auto', the size at which the index becomes HNSW; it goes back to "
        "flat below half of it.",
    )
    hnsw_m: int = Field(32, ge=4, le=256)
    hnsw_ef_search: int = Field(64, ge=8)
    hnsw_ef_construction: int = Field(80, ge=8)
    index_save_every: int = Field(
        1000, ge=1, description="Save the index after this many changes (or 10% of its size)."
    )
    embedder: str = Field("all-MiniLM-L6-v2", description="'all-MiniLM-L6-v2' or a model dir.")
    embed_batch_size: int = Field(64, ge=1)
    weights: RetrievalWeights = Field(default_factory=RetrievalWeights)
    recency_half_life_hours: float = Field(72.0, gt=0.0)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    top_k: int = Field(8, ge=1, le=1000)
    candidate_pool: int = Field(
        32, ge=1, description="The most relevant items re-ranked by the full score."
    )
    max_text_chars: int = Field(
        20_000, ge=1, description="Longer texts are refused: the embedder reads only their start."
    )
    busy_timeout_s: float = Field(30.0, gt=0.0)

    def index_kind_for(self, items: int, current: IndexKind | None = None) -> IndexKind:
        """The kind an index of `items` live vectors should be, `current` its kind now.

        Under "auto" a flat scan is exact and cheap while the store is small (under a
        millisecond at 20,000 384-d items), but its time grows with the store, and at
        100,000 it is no faster than numpy; an HNSW walk stays well under a millisecond.
        The gap between switching up (at `hnsw_from_items`) and back (below half of it)
        keeps a store near the threshold from rebuilding on every add and forget.
        """
        if self.index != "auto":
            return self.index
        if items >= self.hnsw_from_items:
            return "hnsw"
        if items < self.hnsw_from_items // 2 or current is None:
            return "flat"
        return current
