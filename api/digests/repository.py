from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text, update
from sqlmodel import Session, col, select

from core.config import settings
from core.models import Attendee, Event, User

DUE = text(
    """
SELECT a.id, news.count, news.through
FROM attendees a
JOIN events e ON e.id = a.event_id AND e.status <> 'deleting'
CROSS JOIN LATERAL (
  SELECT count(*) AS count, max(found.at) AS through FROM (
    SELECT m.created_at AS at
    FROM matches m
    WHERE m.attendee_id = a.id AND m.created_at > coalesce(a.digest_through, a.created_at)
    UNION ALL
    -- Photos of the attendee's bib read since (a photo found by face too counts once).
    SELECT p.bibs_read_at
    FROM photo_bibs pb JOIN photos p ON p.id = pb.photo_id
    WHERE a.bib IS NOT NULL AND pb.event_id = a.event_id AND pb.bib = a.bib
      AND pb.confidence >= :min_confidence
      AND p.bibs_read_at > coalesce(a.digest_through, a.created_at)
      AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.attendee_id = a.id AND m.photo_id = p.id)
      AND NOT EXISTS (SELECT 1 FROM match_rejections r
                      WHERE r.attendee_id = a.id AND r.photo_id = p.id)
  ) found
) news
WHERE a.news_since IS NOT NULL
  AND a.notify
  AND (a.digest_sent_at IS NULL OR a.digest_sent_at <= :due_before)
ORDER BY a.id
LIMIT :limit
FOR UPDATE OF a SKIP LOCKED
"""
)


def due(session: Session, due_before: datetime, limit: int) -> list[Any]:
    """Attendees with news whose digest is due: (id, count, through) each, locked. The
    news is their new face matches and their bib's newly read photos."""
    params = {"due_before": due_before, "limit": limit,
              "min_confidence": settings.BIB_MIN_CONFIDENCE}  # fmt: skip
    return list(session.connection().execute(DUE, params).all())


def clear_news(session: Session, attendee_ids: list[uuid.UUID]) -> None:
    session.execute(
        update(Attendee).where(col(Attendee.id).in_(attendee_ids)).values(news_since=None)
    )


def with_user_and_event(session: Session, attendee_ids: list[uuid.UUID]) -> list[Any]:
    return list(session.exec(
        select(Attendee, User, Event)
        .join(User, col(User.id) == Attendee.user_id)
        .join(Event, col(Event.id) == Attendee.event_id)
        .where(col(Attendee.id).in_(attendee_ids))
    ).all())  # fmt: skip
