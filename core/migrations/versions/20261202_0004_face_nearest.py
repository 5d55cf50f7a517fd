"""face_nearest: each face's nearest attendee and runner-up, kept up to date; match epochs

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "face_nearest",
        sa.Column("face_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("photo_id", sa.Uuid(), nullable=False),
        sa.Column("attendee_id", sa.Uuid(), nullable=False),
        sa.Column("distance", sa.Float(), nullable=False),
        sa.Column("runner_up_attendee_id", sa.Uuid(), nullable=True),
        sa.Column("runner_up", sa.Float(), nullable=True),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["face_id"], ["faces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["photo_id"], ["photos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("face_id"),
    )
    op.create_index("ix_face_nearest_event_photo", "face_nearest", ["event_id", "photo_id"])
    op.create_index(op.f("ix_face_nearest_attendee_id"), "face_nearest", ["attendee_id"])
    op.create_index(
        op.f("ix_face_nearest_runner_up_attendee_id"), "face_nearest", ["runner_up_attendee_id"]
    )
    op.add_column(
        "events", sa.Column("match_epoch", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("photos", sa.Column("match_epoch", sa.Integer(), nullable=True))
    op.create_index("ix_photos_event_match_epoch", "photos", ["event_id", "match_epoch"])
    op.execute("UPDATE photos SET match_epoch = 0 WHERE status = 'indexed'")
    # Existing events: every face against every valid selfie, once (brute force in SQL,
    # fine for the events of a young deployment; `make bench-scale` builds big ones with
    # workers/matching/rebuild.py).
    op.execute(
        """
        INSERT INTO face_nearest (face_id, event_id, photo_id, attendee_id, distance,
                                  runner_up_attendee_id, runner_up, quality)
        SELECT face_id, event_id, photo_id, attendee_id, distance, runner_up_attendee_id,
               runner_up, quality
        FROM (
          SELECT p.*, row_number() OVER w AS rank,
                 lead(p.attendee_id) OVER w AS runner_up_attendee_id,
                 lead(p.distance) OVER w AS runner_up
          FROM (
            SELECT f.id AS face_id, f.event_id, f.photo_id, f.quality, s.attendee_id,
                   min(f.encoding <-> s.encoding) AS distance
            FROM faces f
            JOIN selfies s ON s.event_id = f.event_id AND s.status = 'valid'
            WHERE f.encoding <-> s.encoding <= 0.8
              AND NOT EXISTS (SELECT 1 FROM match_rejections r
                              WHERE r.attendee_id = s.attendee_id AND r.photo_id = f.photo_id)
            GROUP BY f.id, f.event_id, f.photo_id, f.quality, s.attendee_id
          ) p
          WINDOW w AS (PARTITION BY p.face_id ORDER BY p.distance, p.attendee_id)
        ) ranked
        WHERE rank = 1
        """
    )


def downgrade() -> None:
    op.drop_index("ix_photos_event_match_epoch", table_name="photos")
    op.drop_column("photos", "match_epoch")
    op.drop_column("events", "match_epoch")
    op.drop_table("face_nearest")
