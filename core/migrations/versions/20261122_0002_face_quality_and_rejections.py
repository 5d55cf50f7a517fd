"""face size and quality, selfie quality, "not me" rejections

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("faces", sa.Column("size_px", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("faces", sa.Column("quality", sa.Float(), nullable=False, server_default="0"))
    op.add_column("selfies", sa.Column("quality", sa.Float(), nullable=True))
    op.create_table(
        "match_rejections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("attendee_id", sa.Uuid(), nullable=False),
        sa.Column("photo_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["attendee_id"], ["attendees.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["photo_id"], ["photos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("attendee_id", "photo_id"),
    )
    op.create_index(
        op.f("ix_match_rejections_photo_id"), "match_rejections", ["photo_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_match_rejections_photo_id"), table_name="match_rejections")
    op.drop_table("match_rejections")
    op.drop_column("selfies", "quality")
    op.drop_column("faces", "quality")
    op.drop_column("faces", "size_px")
