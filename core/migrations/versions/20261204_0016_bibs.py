"""bibs: numbers read from photos, start lists, bib passes, an attendee's bib

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "events",
        sa.Column("bibs_enabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("events", sa.Column("bib_min", sa.Integer(), nullable=True))
    op.add_column("events", sa.Column("bib_max", sa.Integer(), nullable=True))
    op.add_column(
        "events",
        sa.Column(
            "bib_search",
            sa.Enum("runner", "open", name="bibsearch", native_enum=False, create_constraint=True,
                    length=16),
            nullable=False,
            server_default="runner",
        ),
    )  # fmt: skip
    op.add_column("photos", sa.Column("bibs_read_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("attendees", sa.Column("bib", sa.String(length=8), nullable=True))
    op.create_table(
        "photo_bibs",
        sa.Column("photo_id", sa.Uuid(), nullable=False),
        sa.Column("bib", sa.String(length=8), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("top", sa.Integer(), nullable=False),
        sa.Column("right", sa.Integer(), nullable=False),
        sa.Column("bottom", sa.Integer(), nullable=False),
        sa.Column("left", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["photo_id"], ["photos.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("photo_id", "bib"),
    )
    op.create_index("ix_photo_bibs_event_bib", "photo_bibs", ["event_id", "bib", "confidence"])
    op.create_table(
        "runners",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("bib", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "bib"),
    )
    op.create_table(
        "bib_passes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("bib", sa.String(length=8), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_index("ix_bib_passes_event_id", "bib_passes", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_bib_passes_event_id", table_name="bib_passes")
    op.drop_table("bib_passes")
    op.drop_table("runners")
    op.drop_index("ix_photo_bibs_event_bib", table_name="photo_bibs")
    op.drop_table("photo_bibs")
    op.drop_column("attendees", "bib")
    op.drop_column("photos", "bibs_read_at")
    for column in ("bib_search", "bib_max", "bib_min", "bibs_enabled"):
        op.drop_column("events", column)
