from __future__ import annotations

import uuid

from sqlalchemy import exists
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, delete, select

from api.models import Match, MatchRejection, Photo, utcnow


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


def reject(session: Session, attendee_id: uuid.UUID, photo_id: uuid.UUID) -> None:
    """Drop the attendee's match on the photo and record that it must never come back."""
    session.exec(
        delete(Match).where(col(Match.attendee_id) == attendee_id, col(Match.photo_id) == photo_id)
    )
    session.exec(
        insert(MatchRejection)
        .values(id=uuid.uuid4(), attendee_id=attendee_id, photo_id=photo_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["attendee_id", "photo_id"])
    )
