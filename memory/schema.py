"""SQL schema (SQLAlchemy 2.0 ORM). Changes go through an Alembic revision in migrations/."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from memory.records import PROVENANCES, ROLES


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out: SQLite drops the zone otherwise."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; memory times are UTC-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    pass


class StoreMetaRow(Base):
    """Facts about the store itself, such as `store_id`: a random id made when the database
    is created, so an index file built for another database is never trusted."""

    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# The person at this machine's terminal: the user every store has from its creation, and
# the one a server with no keys serves. Users added with `eyla users add` come after.
OWNER_ID = 1


class UserRow(Base):
    """Whose sessions, transcripts and memories a row is. A user's API key is stored only
    as its SHA-256: keys are 256 random bits, so no slow hash is needed against guessing.
    A removed user's row stays (forgotten items still point at it) without key or name."""

    __tablename__ = "users"
    __table_args__ = (
        # a removed user's name may be given again
        Index(
            "ux_users_live_name",
            "name",
            unique=True,
            sqlite_where="removed_at IS NULL",
            postgresql_where="removed_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _owner_column(table: str) -> Mapped[int]:
    return mapped_column(
        ForeignKey("users.id", name=f"fk_{table}_user_id"),
        index=True,
        default=OWNER_ID,
        server_default=str(OWNER_ID),
    )


class SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = _owner_column("sessions")
    title: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageRow(Base):
    """The transcript. The store never edits a message; it deletes one only when the user
    forgets the memory taken from it."""

    __tablename__ = "messages"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="ck_messages_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EpisodeRow(Base):
    __tablename__ = "episodes"
    __table_args__ = (
        CheckConstraint(_one_of("provenance", PROVENANCES), name="ck_episodes_provenance"),
        # At most one live item per user and normalised text, even with two writers racing.
        Index(
            "ux_episodes_live_hash",
            "user_id",
            "content_hash",
            unique=True,
            sqlite_where="forgotten_at IS NULL",
            postgresql_where="forgotten_at IS NULL",
        ),
        # Never reuse an id: ids are the FAISS keys and the history's references.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = _owner_column("episodes")
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    provenance: Mapped[str] = mapped_column(String(16), index=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), index=True
    )
    # The transcript message the item was taken from, so forgetting can offer to delete it.
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL", name="fk_episodes_message_id"), index=True
    )
    importance: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_accessed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    forgotten_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Deferred: 1.5 kB a row that only the index and exports read.
    embedding: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    embedding_model: Mapped[str] = mapped_column(String(200))
    embedding_dim: Mapped[int] = mapped_column(Integer)


class HistoryRow(Base):
    """Audit trail of every add / update / forget. Its ids are commit-ordered on SQLite
    (one writer at a time), so it doubles as the change feed that keeps each process's
    in-memory index in step with the database."""

    __tablename__ = "history"
    __table_args__ = (
        CheckConstraint(_one_of("action", ("add", "update", "forget")), name="ck_history_action"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id"), index=True)
    action: Mapped[str] = mapped_column(String(8))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
