"""face_nearest.lookalike: the face is in a look-alike's group of its nearest attendee;
tolerance_previews: what another tolerance would do, computed by a worker

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # False everywhere until each event's rematch groups its faces (workers/matching/lookalikes.py):
    # until then an event matches as it did before. Every event with faces near an
    # attendee owes that rematch, and the reconciler enqueues it (api/reconciler/).
    op.add_column(
        "face_nearest",
        sa.Column("lookalike", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute(
        "UPDATE events SET rematch_requested_at = now() WHERE status <> 'deleting'"
        " AND EXISTS (SELECT 1 FROM face_nearest n WHERE n.event_id = events.id)"
    )
    op.create_table(
        "tolerance_previews",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("tolerance", sa.Float(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", "tolerance"),
    )


def downgrade() -> None:
    op.drop_table("tolerance_previews")
    op.drop_column("face_nearest", "lookalike")
