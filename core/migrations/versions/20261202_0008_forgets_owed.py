"""forgets_owed: a deleted attendee's recomputation, owed until its job has run

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forgets_owed",
        sa.Column("attendee_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("attendee_id"),
    )
    op.create_index(op.f("ix_forgets_owed_event_id"), "forgets_owed", ["event_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_forgets_owed_event_id"), table_name="forgets_owed")
    op.drop_table("forgets_owed")
