"""match news: matching marks the attendees it made a match for, so that digests read
those attendees instead of counting every opted-in attendee's matches on every pass

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("attendees", sa.Column("news_since", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_attendees_news",
        "attendees",
        ["news_since"],
        postgresql_where=sa.text("news_since IS NOT NULL"),
    )
    # Matches made before this revision and not yet counted in a digest are news too.
    op.execute(
        """
UPDATE attendees a SET news_since = now()
WHERE EXISTS (SELECT 1 FROM matches m WHERE m.attendee_id = a.id
              AND m.created_at > coalesce(a.digest_through, a.created_at))
"""
    )


def downgrade() -> None:
    op.drop_index("ix_attendees_news", table_name="attendees")
    op.drop_column("attendees", "news_since")
