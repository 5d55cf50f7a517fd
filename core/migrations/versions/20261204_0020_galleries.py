"""galleries: an event's browse-all link, its password and its expiry

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("gallery_token", sa.String(length=64), nullable=True))
    op.add_column(
        "events", sa.Column("gallery_password_hash", sa.String(length=200), nullable=True)
    )
    op.add_column(
        "events", sa.Column("gallery_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_unique_constraint("events_gallery_token_key", "events", ["gallery_token"])


def downgrade() -> None:
    op.drop_constraint("events_gallery_token_key", "events", type_="unique")
    op.drop_column("events", "gallery_expires_at")
    op.drop_column("events", "gallery_password_hash")
    op.drop_column("events", "gallery_token")
