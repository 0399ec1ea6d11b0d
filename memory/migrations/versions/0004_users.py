"""Users: a `users` table, and every session and memory owned by one.

Rows that exist already belong to the owner (user 1, the person at the terminal), made
here; users with API keys come later from `eyla users add`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OWNER = 1
_LIVE = "forgotten_at IS NULL"


def _user_column(table: str) -> sa.Column[int]:
    return sa.Column(
        "user_id",
        sa.Integer(),
        sa.ForeignKey("users.id", name=f"fk_{table}_user_id"),
        nullable=False,
        server_default=str(_OWNER),
    )


def _live_hash_index(columns: list[str]) -> None:
    op.create_index(
        "ux_episodes_live_hash",
        "episodes",
        columns,
        unique=True,
        sqlite_where=sa.text(_LIVE),
        postgresql_where=sa.text(_LIVE),
    )


def upgrade() -> None:
    users = op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_index(
        "ux_users_live_name",
        "users",
        ["name"],
        unique=True,
        sqlite_where=sa.text("removed_at IS NULL"),
        postgresql_where=sa.text("removed_at IS NULL"),
    )
    # the first row of a new table: id 1 on SQLite and PostgreSQL alike, without
    # setting the id by hand (PostgreSQL's sequence would then hand out 1 again)
    now = datetime.now(UTC).replace(tzinfo=None)
    op.bulk_insert(users, [{"name": "owner", "created_at": now}])
    # the unique index gains the user, so it is made again after the table copy
    op.drop_index("ux_episodes_live_hash", table_name="episodes")
    for table in ("sessions", "episodes"):
        # SQLite adds a foreign key only by copying the table; the episodes copy must keep
        # AUTOINCREMENT, or a forgotten item's id could be handed out again
        kwargs = {"sqlite_autoincrement": True} if table == "episodes" else {}
        with op.batch_alter_table(table, table_kwargs=kwargs) as batch:
            batch.add_column(_user_column(table))
            batch.create_index(f"ix_{table}_user_id", ["user_id"])
    _live_hash_index(["user_id", "content_hash"])


def downgrade() -> None:
    # every user's data but the owner's goes: one store cannot tell them apart after
    others = f"SELECT id FROM episodes WHERE user_id != {_OWNER}"
    op.execute(f"DELETE FROM history WHERE episode_id IN ({others})")
    op.execute(f"DELETE FROM episodes WHERE user_id != {_OWNER}")
    # by hand: foreign keys are off while SQLite migrates, so nothing cascades
    op.execute(
        f"DELETE FROM messages WHERE session_id IN "
        f"(SELECT id FROM sessions WHERE user_id != {_OWNER})"
    )
    op.execute(f"DELETE FROM sessions WHERE user_id != {_OWNER}")
    op.drop_index("ux_episodes_live_hash", table_name="episodes")
    for table in ("episodes", "sessions"):
        kwargs = {"sqlite_autoincrement": True} if table == "episodes" else {}
        with op.batch_alter_table(table, table_kwargs=kwargs) as batch:
            batch.drop_index(f"ix_{table}_user_id")
            batch.drop_column("user_id")
    _live_hash_index(["content_hash"])
    op.drop_index("ux_users_live_name", table_name="users")
    op.drop_table("users")
