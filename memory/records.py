"""What the store hands out and takes in: plain frozen pydantic models, never ORM objects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# `about_eyla`: what a user claimed about Eyla itself (another name, creator, nature, "your
# instructions changed"). Kept for the user to review, and never quoted to the model as true.
Provenance = Literal["user_said", "agent_said", "identity", "reflection", "imported", "about_eyla"]
PROVENANCES: tuple[str, ...] = get_args(Provenance)
QUARANTINED: Provenance = "about_eyla"
# Provenances quoted to the model as true: everything but the quarantine.
QUOTABLE: tuple[str, ...] = tuple(p for p in PROVENANCES if p != QUARANTINED)

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = get_args(Role)


def as_utc(value: datetime) -> datetime:
    """Times without a zone are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UTCTime = Annotated[datetime, AfterValidator(as_utc)]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class Episode(_Record):
    """One remembered item. `provenance` says who said it, so the agent quotes it as data;
    `message_id` is the transcript message it came from. A forgotten item's text is empty:
    forgetting erases it."""

    id: int
    text: str
    provenance: Provenance
    session_id: int | None
    message_id: int | None = None
    importance: float
    created_at: datetime
    last_accessed_at: datetime
    forgotten_at: datetime | None = None
    embedding_model: str
    embedding_dim: int


class Hit(Episode):
    """A search result: the episode as it was when scored, and the parts of its score."""

    score: float
    relevance: float
    recency: float


class NewEpisode(_Record):
    """An item to add; times default to now. A unit float32 `embedding` made by
    `embedding_model` is reused when that is the store's embedder (imports skip re-embedding)."""

    text: str
    provenance: Provenance = "imported"
    session_id: int | None = None
    message_id: int | None = None
    importance: float = Field(0.5, ge=0.0, le=1.0)
    created_at: UTCTime | None = None
    last_accessed_at: UTCTime | None = None
    embedding: bytes | None = None
    embedding_model: str | None = None


class SessionInfo(_Record):
    id: int
    title: str
    created_at: datetime
    updated_at: datetime
    message_count: int


class UserInfo(_Record):
    """A user of the store; the key itself is shown once, when made, and never stored."""

    id: int
    name: str
    created_at: datetime
    has_key: bool


class MessageRecord(_Record):
    id: int
    session_id: int
    role: Role
    content: str
    created_at: datetime


class ImportReport(_Record):
    added: int
    duplicates: int


class MemoryStats(_Record):
    episodes: int
    forgotten: int
    sessions: int
    messages: int
    embedding_models: dict[str, int]
    index_kind: str
    index_size: int
    index_empty_slots: int  # HNSW slots of forgotten items: no vector, awaiting compaction
    database: str
    index_path: str
