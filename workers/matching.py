"""Matching is SQL over stored encodings: pgvector queries, never a loop over photos.

The rules, at event scale:
- each face goes to at most one attendee: the nearest, if its distance is
  within the event's tolerance and, when a margin is set, the runner-up
  attendee is at least `margin` further away (an ambiguous face goes to nobody);
- a weak face (quality under MATCH_WEAK_QUALITY: tiny, blurred or both) must
  be MATCH_WEAK_PENALTY nearer than the tolerance: weak encodings drift
  towards strangers (loadtest/README.md, "Crowds");
- an attendee's distance to a face is the smallest over their valid selfies;
- an attendee gets each photo at most once, through their best face in it;
- a photo the attendee said "not me" to is never matched to them again.

Every function recomputes the matches of a set of photos from scratch and
writes only the difference, so running it twice changes nothing and a match
that survives keeps its `created_at`.

Matching within an event is serialized by a transaction-level advisory lock.
Without it, a photo indexed while a selfie is judged could be matched by
neither: each transaction's statement sees only the other's committed rows,
and each commits without the other's. With it, whichever matches second sees
what the first committed. A transaction that takes row locks as well must call
`api.db.lock_matching` first, so that every transaction takes its locks in the
same order; the API's writers of matches take it too.
"""

from __future__ import annotations

import uuid

from sqlalchemy import TextClause, text
from sqlmodel import Session

from api.config import settings
from api.db import lock_matching

_RECOMPUTE = """
WITH scope AS ({scope}),
pair AS (
  SELECT f.id AS face_id, f.photo_id, s.attendee_id, min(f.encoding <-> s.encoding) AS distance,
         CASE WHEN f.quality < :weak_quality THEN :weak_penalty ELSE 0 END AS penalty
  FROM faces f
  JOIN scope ON scope.photo_id = f.photo_id
  JOIN selfies s ON s.event_id = f.event_id AND s.status = 'valid'
  WHERE f.event_id = :event_id
    AND f.encoding <-> s.encoding <= :tolerance + :margin
    AND NOT EXISTS (
      SELECT 1 FROM match_rejections r
      WHERE r.attendee_id = s.attendee_id AND r.photo_id = f.photo_id
    )
  GROUP BY f.id, f.photo_id, s.attendee_id
),
ranked AS (
  SELECT pair.*,
         row_number() OVER (PARTITION BY face_id ORDER BY distance, attendee_id) AS rank,
         lead(distance) OVER (PARTITION BY face_id ORDER BY distance, attendee_id) AS runner_up
  FROM pair
),
best AS (
  SELECT DISTINCT ON (attendee_id, photo_id) attendee_id, photo_id, face_id, distance
  FROM ranked
  WHERE rank = 1
    AND distance <= :tolerance - penalty
    AND (runner_up IS NULL OR runner_up - distance >= :margin)
  ORDER BY attendee_id, photo_id, distance
),
gone AS (
  DELETE FROM matches m
  USING scope
  WHERE m.photo_id = scope.photo_id
    AND NOT EXISTS (
      SELECT 1 FROM best b WHERE b.attendee_id = m.attendee_id AND b.photo_id = m.photo_id
    )
  RETURNING m.id
)
INSERT INTO matches (id, attendee_id, photo_id, face_id, event_id, distance, created_at)
SELECT gen_random_uuid(), attendee_id, photo_id, face_id, :event_id, distance, now()
FROM best
ON CONFLICT (attendee_id, photo_id) DO UPDATE
  SET face_id = EXCLUDED.face_id, distance = EXCLUDED.distance
  WHERE matches.face_id IS DISTINCT FROM EXCLUDED.face_id
     OR matches.distance IS DISTINCT FROM EXCLUDED.distance
"""
_PHOTO = text(_RECOMPUTE.format(scope="SELECT CAST(:photo_id AS uuid) AS photo_id"))
# The photos a new selfie can change: those with a face near any of the attendee's
# selfies, plus those already matched to them.
_ATTENDEE = text(
    _RECOMPUTE.format(
        scope="""
        SELECT DISTINCT f.photo_id FROM faces f
        JOIN selfies s ON s.attendee_id = :attendee_id AND s.status = 'valid'
        WHERE f.event_id = :event_id AND f.encoding <-> s.encoding <= :tolerance + :margin
        UNION
        SELECT photo_id FROM matches WHERE attendee_id = :attendee_id
        """
    )
)
_EVENT = text(
    _RECOMPUTE.format(scope="SELECT id AS photo_id FROM photos WHERE event_id = :event_id")
)


def _params(
    event_id: uuid.UUID, tolerance: float, margin: float, **extra: object
) -> dict[str, object]:
    return {
        "event_id": event_id,
        "tolerance": tolerance,
        "margin": margin,
        "weak_quality": settings.MATCH_WEAK_QUALITY,
        "weak_penalty": settings.MATCH_WEAK_PENALTY,
        **extra,
    }


def _run(
    session: Session,
    statement: TextClause,
    event_id: uuid.UUID,
    tolerance: float,
    margin: float,
    **scope: object,
) -> int:
    """Take the event's matching lock, then recompute the scope's matches; rows changed."""
    lock_matching(session, event_id)
    params = _params(event_id, tolerance, margin, **scope)
    return session.connection().execute(statement, params).rowcount


def match_photo(
    session: Session, event_id: uuid.UUID, photo_id: uuid.UUID, tolerance: float, margin: float
) -> int:
    """Match a newly indexed photo's faces against the event's attendees."""
    return _run(session, _PHOTO, event_id, tolerance, margin, photo_id=photo_id)


def match_attendee(
    session: Session, event_id: uuid.UUID, attendee_id: uuid.UUID, tolerance: float, margin: float
) -> int:
    """Re-match every photo a new or removed selfie of this attendee can affect."""
    return _run(session, _ATTENDEE, event_id, tolerance, margin, attendee_id=attendee_id)


def rematch_event(session: Session, event_id: uuid.UUID, tolerance: float, margin: float) -> int:
    """Recompute every match of the event from stored encodings."""
    return _run(session, _EVENT, event_id, tolerance, margin)
