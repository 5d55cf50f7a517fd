"""branding and download rules: an event's logo, accent colour, welcome text and
watermark, and what its attendees may download

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    sa.Column("accent_color", sa.String(length=7), nullable=True),
    sa.Column("welcome_text", sa.String(length=1000), nullable=True),
    sa.Column("logo_key", sa.String(length=300), nullable=True),
    sa.Column("logo_version", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("watermark", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("watermark_text", sa.String(length=60), nullable=True),
    sa.Column("mark_version", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("marks_swept", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("originals_downloadable", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("zips_allowed", sa.Boolean(), nullable=False, server_default=sa.true()),
)


def upgrade() -> None:
    for column in _COLUMNS:
        op.add_column("events", column)


def downgrade() -> None:
    for column in reversed(_COLUMNS):
        op.drop_column("events", column.name)
