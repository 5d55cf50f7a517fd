"""Matching is SQL over stored encodings: one pgvector query, never a loop over photos.

Each (attendee, photo) pair keeps its best face: the smallest L2 distance
between any of the photo's faces and any of the attendee's valid selfies, if
it is within the event's tolerance.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlmodel import Session

_MATCH = """
WITH best AS (
  SELECT DISTINCT ON (s.attendee_id, f.photo_id)
         s.attendee_id, f.photo_id, f.id AS face_id, f.event_id,
         f.encoding <-> s.encoding AS distance
  FROM faces f
  JOIN selfies s ON s.event_id = f.event_id AND s.status = 'valid'
  WHERE f.event_id = :event_id
    AND f.encoding <-> s.encoding <= :tolerance
    {filter}
  ORDER BY s.attendee_id, f.photo_id, distance
)
INSERT INTO matches (id, attendee_id, photo_id, face_id, event_id, distance, created_at)
SELECT gen_random_uuid(), attendee_id, photo_id, face_id, event_id, distance, now()
FROM best
ON CONFLICT (attendee_id, photo_id) DO UPDATE
  SET face_id = EXCLUDED.face_id, distance = EXCLUDED.distance
  WHERE EXCLUDED.distance < matches.distance
"""
_FOR_PHOTO = text(_MATCH.format(filter="AND f.photo_id = :photo_id"))
_FOR_ATTENDEE = text(_MATCH.format(filter="AND s.attendee_id = :attendee_id"))
_FOR_EVENT = text(_MATCH.format(filter=""))


def match_photo(
    session: Session, event_id: uuid.UUID, photo_id: uuid.UUID, tolerance: float
) -> int:
    """Match a newly indexed photo's faces against the event's selfies."""
    params = {"event_id": event_id, "photo_id": photo_id, "tolerance": tolerance}
    return session.connection().execute(_FOR_PHOTO, params).rowcount


def match_attendee(
    session: Session, event_id: uuid.UUID, attendee_id: uuid.UUID, tolerance: float
) -> int:
    """Match an attendee's valid selfies against every face of the event."""
    params = {"event_id": event_id, "attendee_id": attendee_id, "tolerance": tolerance}
    return session.connection().execute(_FOR_ATTENDEE, params).rowcount


def rematch_event(session: Session, event_id: uuid.UUID, tolerance: float) -> int:
    """Recompute every match of the event from stored encodings."""
    connection = session.connection()
    connection.execute(text("DELETE FROM matches WHERE event_id = :e"), {"e": event_id})
    return connection.execute(_FOR_EVENT, {"event_id": event_id, "tolerance": tolerance}).rowcount
