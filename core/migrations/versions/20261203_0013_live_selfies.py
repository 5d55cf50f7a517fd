"""live selfies (their challenge's steps), held selfies, per-event selfie upload and
auto-close, and opt-outs of people who never joined

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector

revision: str = "0013"
down_revision: str | None = "0012"
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
    "photos.deleted",
    "event.deletion_requested",
    "event.deleted",
    "account.deleted",
    "consent.given",
)
NEW_ACTIONS = (
    "selfie.held",
    "selfie.released",
    "selfie.refused",
    "opt_out.faces_removed",
    "opt_out.encoding_deleted",
)


def _check(table: str, name: str, column: str, values: Sequence[str]) -> None:
    op.drop_constraint(name, table, type_="check")
    listed = ", ".join(f"'{v}'" for v in values)
    op.create_check_constraint(name, table, f"{column} IN ({listed})")


def _when(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    _check("audit_log", "auditaction", "action", ACTIONS + NEW_ACTIONS)
    _check("selfies", "selfiestatus", "status", ("pending", "valid", "rejected", "held"))
    _check("emails", "emailkind", "kind", ("sign_in", "digest", "notice"))
    op.add_column("selfies", sa.Column("steps", sa.JSON(), nullable=True))
    op.add_column("selfies", sa.Column("held_for", sa.Uuid(), nullable=True))
    op.create_foreign_key(None, "selfies", "attendees", ["held_for"], ["id"], ondelete="SET NULL")
    op.add_column("selfies", sa.Column("held_told_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("events", sa.Column("selfie_upload", sa.Boolean(), nullable=True))
    op.add_column("events", sa.Column("auto_close_days", sa.Integer(), nullable=True))
    op.create_table(
        "face_opt_outs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "done",
                "rejected",
                name="optoutstatus",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("storage_key", sa.String(length=300), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("encoding", Vector(128), nullable=True),
        sa.Column("faces_removed", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_face_opt_outs_event_id", "face_opt_outs", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_face_opt_outs_event_id", table_name="face_opt_outs")
    op.drop_table("face_opt_outs")
    op.drop_column("events", "auto_close_days")
    op.drop_column("events", "selfie_upload")
    op.drop_constraint("selfies_held_for_fkey", "selfies", type_="foreignkey")
    op.drop_column("selfies", "held_told_at")
    op.drop_column("selfies", "held_for")
    op.drop_column("selfies", "steps")
    op.execute("UPDATE selfies SET status = 'rejected' WHERE status = 'held'")
    _check("selfies", "selfiestatus", "status", ("pending", "valid", "rejected"))
    op.execute("DELETE FROM emails WHERE kind = 'notice'")
    _check("emails", "emailkind", "kind", ("sign_in", "digest"))
    op.execute(f"DELETE FROM audit_log WHERE action IN {NEW_ACTIONS}")
    _check("audit_log", "auditaction", "action", ACTIONS)
