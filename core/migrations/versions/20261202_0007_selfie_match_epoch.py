"""selfies.match_epoch: which valid selfies a bulk worker's matrix has seen

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE selfies_match_epoch_seq")
    op.add_column("selfies", sa.Column("match_epoch", sa.BigInteger(), nullable=True))
    # Every selfie valid now is in the database a matrix reads: epoch 0.
    op.execute("UPDATE selfies SET match_epoch = 0 WHERE status = 'valid'")
    op.create_index("ix_selfies_event_epoch", "selfies", ["event_id", "match_epoch"])


def downgrade() -> None:
    op.drop_index("ix_selfies_event_epoch", table_name="selfies")
    op.drop_column("selfies", "match_epoch")
    op.execute("DROP SEQUENCE selfies_match_epoch_seq")
