"""photos.content_sha256: the same bytes are one photo per event

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Photos stored before this have none: they are not compared (their files are not
    # read back to hash them).
    op.add_column("photos", sa.Column("content_sha256", sa.String(length=64), nullable=True))
    op.create_index(
        "ux_photos_event_content", "photos", ["event_id", "content_sha256"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ux_photos_event_content", table_name="photos")
    op.drop_column("photos", "content_sha256")
