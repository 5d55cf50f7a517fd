"""languages: the language of an attendee's pages and mails, and of a sign-in link's mail

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("attendees", sa.Column("locale", sa.String(length=8), nullable=True))
    op.add_column("sign_in_links", sa.Column("locale", sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column("sign_in_links", "locale")
    op.drop_column("attendees", "locale")
