"""Indexes in the order of every list's pages (cursor paging: api.pagination), and faces' boxes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_photos_event_created": ("photos", ["event_id", "created_at", "id"]),
    "ix_matches_attendee_created": ("matches", ["attendee_id", "created_at", "id"]),
    "ix_events_owner_created": ("events", ["owner_id", "created_at", "id"]),
    "ix_events_created": ("events", ["created_at", "id"]),
    "ix_users_created": ("users", ["created_at", "id"]),
    "ix_audit_log_at": ("audit_log", ["at", "id"]),
}


BOXES = ["top", "right", "bottom", "left"]


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)
    # A photo's face boxes by an index-only scan; it serves photo_id's lookups too.
    op.create_index("ix_faces_photo_boxes", "faces", ["photo_id"], postgresql_include=BOXES)
    op.drop_index("ix_faces_photo_id", table_name="faces")


def downgrade() -> None:
    op.create_index("ix_faces_photo_id", "faces", ["photo_id"])
    op.drop_index("ix_faces_photo_boxes", table_name="faces")
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
