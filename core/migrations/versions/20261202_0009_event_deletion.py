"""events: deletion as a job (status 'deleting'), retention after closing; audit of deletions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("open", "closed", "deleting")
ACTIONS = (
    "selfie_image.stored",
    "selfie_image.deleted",
    "selfie_encoding.created",
    "selfie_encoding.deleted",
    "face_encodings.created",
    "face_encodings.deleted",
    "matches.deleted",
    "photos.deleted",
    "event.deletion_requested",
    "event.deleted",
    "account.deleted",
)


def _check(table: str, name: str, column: str, values: Sequence[str]) -> None:
    op.drop_constraint(name, table, type_="check")
    listed = ", ".join(f"'{v}'" for v in values)
    op.create_check_constraint(name, table, f"{column} IN ({listed})")


def upgrade() -> None:
    _check("events", "eventstatus", "status", STATUSES)
    _check("audit_log", "auditaction", "action", ACTIONS)
    op.add_column("events", sa.Column("retention_days", sa.Integer(), nullable=True))
    op.add_column(
        "events", sa.Column("deletion_requested_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("events", "deletion_requested_at")
    op.drop_column("events", "retention_days")
    _check("audit_log", "auditaction", "action", ACTIONS[:7])
    _check("events", "eventstatus", "status", STATUSES[:2])
