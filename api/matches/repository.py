from __future__ import annotations

import uuid

from sqlalchemy import exists, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, delete, select

from api.pagination import newest_first
from core.models import Match, MatchRejection, Photo, utcnow


def page_attendee_matches(
    session: Session, attendee_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[tuple[Match, Photo]], str | None]:
    """A page of the attendee's matches with their photos, newest match first."""
    query = (
        select(Match, Photo)
        .join(Photo, col(Photo.id) == col(Match.photo_id))
        .where(col(Match.attendee_id) == attendee_id)
    )
    rows, next_cursor = newest_first(
        session, query, col(Match.created_at), col(Match.id), cursor=cursor, limit=limit,
        key=lambda row: (row[0].created_at, row[0].id),
    )  # fmt: skip
    return [(match, photo) for match, photo in rows], next_cursor


_DIGEST = text(
    """
SELECT count(*), coalesce(md5(string_agg(concat_ws('@', photo_id, created_at, distance), ','
                                         ORDER BY created_at, id)), '')
FROM matches WHERE attendee_id = :attendee_id
"""
)


def attendee_matches_digest(session: Session, attendee_id: uuid.UUID) -> tuple[int, str]:
    """How many matches the attendee has, and a digest that changes whenever one of them
    comes, goes or changes."""
    count, digest = session.execute(_DIGEST, {"attendee_id": attendee_id}).one()
    return count, digest


def list_attendee_photos(session: Session, attendee_id: uuid.UUID) -> list[Photo]:
    """Every photo the attendee is matched to, newest match first."""
    query = (
        select(Photo)
        .join(Match, col(Photo.id) == col(Match.photo_id))
        .where(col(Match.attendee_id) == attendee_id)
        .order_by(col(Match.created_at).desc(), col(Match.id).desc())
    )
    return list(session.exec(query).all())


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


def unreject(session: Session, attendee_id: uuid.UUID, photo_id: uuid.UUID) -> bool:
    """Take a "not me" back; whether there was one."""
    result = session.exec(
        delete(MatchRejection).where(
            col(MatchRejection.attendee_id) == attendee_id, col(MatchRejection.photo_id) == photo_id
        )
    )
    return bool(result.rowcount)


def list_rejected_photos(
    session: Session, attendee_id: uuid.UUID
) -> list[tuple[MatchRejection, Photo]]:
    """The photos the attendee said "not me" to, latest first."""
    query = (
        select(MatchRejection, Photo)
        .join(Photo, col(Photo.id) == col(MatchRejection.photo_id))
        .where(col(MatchRejection.attendee_id) == attendee_id)
        .order_by(col(MatchRejection.created_at).desc(), col(MatchRejection.id).desc())
    )
    return [(rejection, photo) for rejection, photo in session.exec(query).all()]
