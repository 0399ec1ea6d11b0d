"""Drop `session_states`: the SSM state saved after every turn was never read back.

Each turn re-reads the whole transcript, so the state is recomputed from it; resuming a
session needs nothing else. The saved blobs are deleted with the table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a whole table goes with a plain DROP TABLE, which SQLite supports: no batch copy
    op.drop_table("session_states")


def downgrade() -> None:
    # The table as 0001 made it (spelled out: a migration must not follow the live
    # models). It comes back empty: the dropped states are gone, and 0002's code reads
    # none of them anyway.
    op.create_table(
        "session_states",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id"),
    )
