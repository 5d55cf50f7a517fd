from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from core.models import TolerancePreview, utcnow

HISTOGRAM_LOW, HISTOGRAM_HIGH, HISTOGRAM_BINS = 0.3, 0.8, 25

_HISTOGRAM = text(
    """
SELECT width_bucket(n.distance, :low, :high, :bins) AS bin,
       count(*) FILTER (WHERE m.face_id IS NOT NULL),
       count(*) FILTER (WHERE m.face_id IS NULL AND NOT n.lookalike),
       count(*) FILTER (WHERE m.face_id IS NULL AND n.lookalike)
FROM face_nearest n
LEFT JOIN matches m ON m.face_id = n.face_id AND m.attendee_id = n.attendee_id
WHERE n.event_id = :event_id AND n.distance < :high
GROUP BY bin ORDER BY bin
"""
)
_ATTENDEE_PHOTOS = text(
    """
SELECT a.id, u.full_name, (SELECT count(*) FROM matches m WHERE m.attendee_id = a.id)
FROM attendees a JOIN users u ON u.id = a.user_id
WHERE a.event_id = :event_id
  AND EXISTS (SELECT 1 FROM selfies s WHERE s.attendee_id = a.id AND s.status = 'valid')
"""
)
_NAMES = text(
    "SELECT a.id, u.full_name FROM attendees a JOIN users u ON u.id = a.user_id"
    " WHERE a.id = ANY(CAST(:ids AS uuid[]))"
)


def distance_histogram(session: Session, event_id: uuid.UUID) -> list[tuple[int, int, int, int]]:
    """(bin, matched, unmatched, look-alike) face counts; bin 0 is under HISTOGRAM_LOW."""
    params = {"event_id": event_id, "low": HISTOGRAM_LOW, "high": HISTOGRAM_HIGH,
              "bins": HISTOGRAM_BINS}  # fmt: skip
    return [tuple(row) for row in session.connection().execute(_HISTOGRAM, params)]


def attendee_photo_counts(session: Session, event_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """(attendee id, name, matched photos) of each attendee with a valid selfie."""
    rows = session.connection().execute(_ATTENDEE_PHOTOS, {"event_id": event_id})
    return [tuple(row) for row in rows]


def attendee_names(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """The names of the attendees still there among `ids`."""
    return {a: n for a, n in session.connection().execute(_NAMES, {"ids": ids})}


def get_preview(session: Session, event_id: uuid.UUID, tolerance: float) -> TolerancePreview | None:
    return session.get(TolerancePreview, (event_id, tolerance))


def request_preview(session: Session, event_id: uuid.UUID, tolerance: float) -> TolerancePreview:
    """The preview's row, pending again (computed afresh: matches move meanwhile)."""
    values = {"event_id": event_id, "tolerance": tolerance, "status": "pending",
              "requested_at": utcnow(), "finished_at": None, "result": None}  # fmt: skip
    statement = insert(TolerancePreview).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["event_id", "tolerance"],
        set_={
            k: statement.excluded[k] for k in ("status", "requested_at", "finished_at", "result")
        },
    )
    session.execute(statement)
    preview = session.get(TolerancePreview, (event_id, tolerance), populate_existing=True)
    assert preview is not None
    return preview
