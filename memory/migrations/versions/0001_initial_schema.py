"""Initial schema: store meta, sessions, transcript, session state, episodes, history.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Times are stored naive and read back as UTC (memory.schema.UTCDateTime); a migration
# must not import the live models, which will change after it.
_TIME = sa.DateTime()
_PROVENANCES = "'user_said', 'agent_said', 'identity', 'reflection', 'imported'"


def upgrade() -> None:
    store_meta = op.create_table(
        "store_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.bulk_insert(store_meta, [{"key": "store_id", "value": uuid.uuid4().hex}])
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "episodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("provenance", sa.String(length=16), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("importance", sa.Float(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("last_accessed_at", _TIME, nullable=False),
        sa.Column("forgotten_at", _TIME, nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("embedding_model", sa.String(length=200), nullable=False),
        sa.Column("embedding_dim", sa.Integer(), nullable=False),
        sa.CheckConstraint(f"provenance IN ({_PROVENANCES})", name="ck_episodes_provenance"),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_episodes_forgotten_at", "episodes", ["forgotten_at"])
    op.create_index("ix_episodes_provenance", "episodes", ["provenance"])
    op.create_index("ix_episodes_session_id", "episodes", ["session_id"])
    op.create_index(
        "ux_episodes_live_hash",
        "episodes",
        ["content_hash"],
        unique=True,
        sqlite_where=sa.text("forgotten_at IS NULL"),
        postgresql_where=sa.text("forgotten_at IS NULL"),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.CheckConstraint(
            "role IN ('system', 'user', 'assistant', 'tool')", name="ck_messages_role"
        ),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_messages_session_id", "messages", ["session_id"])
    op.create_table(
        "session_states",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_table(
        "history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.CheckConstraint("action IN ('add', 'update', 'forget')", name="ck_history_action"),
        sa.ForeignKeyConstraint(["episode_id"], ["episodes.id"]),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_history_episode_id", "history", ["episode_id"])


def downgrade() -> None:
    op.drop_table("history")
    op.drop_table("session_states")
    op.drop_table("messages")
    op.drop_table("episodes")
    op.drop_table("sessions")
    op.drop_table("store_meta")
