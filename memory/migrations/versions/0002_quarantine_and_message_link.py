"""Quarantine and message link: the `about_eyla` provenance, and `episodes.message_id`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out, not imported: a migration must not follow the live models as they change.
_BEFORE = "'user_said', 'agent_said', 'identity', 'reflection', 'imported'"
_AFTER = f"{_BEFORE}, 'about_eyla'"


def _provenance_check(batch: BatchOperations, provenances: str) -> None:
    batch.drop_constraint("ck_episodes_provenance", type_="check")
    batch.create_check_constraint("ck_episodes_provenance", f"provenance IN ({provenances})")


def upgrade() -> None:
    # SQLite cannot alter a CHECK constraint, so batch mode copies the table; the copy must
    # keep AUTOINCREMENT, or a forgotten item's id could be handed out again.
    with op.batch_alter_table("episodes", table_kwargs={"sqlite_autoincrement": True}) as batch:
        _provenance_check(batch, _AFTER)
        batch.add_column(
            sa.Column(
                "message_id",
                sa.Integer(),
                sa.ForeignKey("messages.id", name="fk_episodes_message_id", ondelete="SET NULL"),
                nullable=True,
            )
        )
        batch.create_index("ix_episodes_message_id", ["message_id"])


def downgrade() -> None:
    quarantined = "SELECT id FROM episodes WHERE provenance = 'about_eyla'"
    op.execute(f"DELETE FROM history WHERE episode_id IN ({quarantined})")
    op.execute(f"DELETE FROM episodes WHERE id IN ({quarantined})")
    with op.batch_alter_table("episodes", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index("ix_episodes_message_id")
        batch.drop_column("message_id")
        _provenance_check(batch, _BEFORE)
