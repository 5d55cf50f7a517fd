from __future__ import annotations

import uuid

from sqlalchemy import exists
from sqlmodel import Session, col, select

from api.models import Match, Photo


def list_attendee_matches(session: Session, attendee_id: uuid.UUID) -> list[tuple[Match, Photo]]:
    """The attendee's matches with their photos, newest match first."""
    rows = session.exec(
        select(Match, Photo)
        .join(Photo, col(Photo.id) == col(Match.photo_id))
        .where(Match.attendee_id == attendee_id)
        .order_by(col(Match.created_at).desc(), col(Match.distance))
    ).all()
    return [(match, photo) for match, photo in rows]


def has_match(session: Session, attendee_id: uuid.UUID, photo_id: uuid.UUID) -> bool:
    query = select(
        exists().where(col(Match.attendee_id) == attendee_id, col(Match.photo_id) == photo_id)
    )
    return bool(session.exec(query).one())
