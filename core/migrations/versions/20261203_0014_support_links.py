"""support links: audited when an admin issues one, and the admin kept on the link, so a
consent recorded through it says so

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
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
    "selfie.held",
    "selfie.released",
    "selfie.refused",
    "opt_out.faces_removed",
    "opt_out.encoding_deleted",
)
NEW_ACTIONS = ("support_link.issued",)


def _check(values: Sequence[str]) -> None:
    op.drop_constraint("auditaction", "audit_log", type_="check")
    listed = ", ".join(f"'{v}'" for v in values)
    op.create_check_constraint("auditaction", "audit_log", f"action IN ({listed})")


def upgrade() -> None:
    _check(ACTIONS + NEW_ACTIONS)
    op.add_column("sign_in_links", sa.Column("issued_by", sa.Uuid(), nullable=True))
    op.create_foreign_key(None, "sign_in_links", "users", ["issued_by"], ["id"],
                          ondelete="SET NULL")  # fmt: skip


def downgrade() -> None:
    op.drop_constraint("sign_in_links_issued_by_fkey", "sign_in_links", type_="foreignkey")
    op.drop_column("sign_in_links", "issued_by")
    op.execute(f"DELETE FROM audit_log WHERE action IN ('{NEW_ACTIONS[0]}')")
    _check(ACTIONS)
