"""privacy: audit log of biometric data, events' closing time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = (
    "selfie_image.stored",
    "selfie_image.deleted",
    "selfie_encoding.created",
    "selfie_encoding.deleted",
    "face_encodings.created",
    "face_encodings.deleted",
    "matches.deleted",
)


def upgrade() -> None:
    op.add_column("events", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE events SET closed_at = now() WHERE status = 'closed'")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                *ACTIONS, name="auditaction", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_event_at", "audit_log", ["event_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_log_event_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_column("events", "closed_at")
