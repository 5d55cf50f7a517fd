"""photographers and capture time: who uploaded each photo, contributors, EXIF capture
time, and a clock correction per photographer

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("photos", sa.Column("uploaded_by", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "photos_uploaded_by_fkey", "photos", "users", ["uploaded_by"], ["id"], ondelete="SET NULL"
    )
    op.add_column("photos", sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("photos", sa.Column("taken_offset_minutes", sa.Integer(), nullable=True))
    op.add_column("photos", sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True))
    # Photos before this revision: their upload time (their files were not read for it).
    op.execute("UPDATE photos SET captured_at = created_at")
    op.alter_column("photos", "captured_at", nullable=False)
    op.create_index("ix_photos_event_captured", "photos", ["event_id", "captured_at", "id"])
    op.create_index("ix_photos_event_uploader", "photos", ["event_id", "uploaded_by"])
    op.create_table(
        "event_contributors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invited_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "email"),
    )
    op.create_index("ix_event_contributors_email", "event_contributors", ["email"])
    op.create_table(
        "event_clocks",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("offset_seconds", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", "user_id"),
    )


def downgrade() -> None:
    op.drop_table("event_clocks")
    op.drop_index("ix_event_contributors_email", table_name="event_contributors")
    op.drop_table("event_contributors")
    op.drop_index("ix_photos_event_uploader", table_name="photos")
    op.drop_index("ix_photos_event_captured", table_name="photos")
    for column in ("captured_at", "taken_offset_minutes", "taken_at"):
        op.drop_column("photos", column)
    op.drop_constraint("photos_uploaded_by_fkey", "photos", type_="foreignkey")
    op.drop_column("photos", "uploaded_by")
