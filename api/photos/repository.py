from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exists
from sqlmodel import Session, col, select

from api.pagination import count_rows, newest_first
from core.config import settings
from core.models import (
    Attendee,
    Event,
    EventClock,
    Face,
    Match,
    MatchRejection,
    Photo,
    PhotoBib,
    PhotoStatus,
    User,
)


def get_photo_by_content(session: Session, event_id: uuid.UUID, digest: str) -> Photo | None:
    query = select(Photo).where(
        col(Photo.event_id) == event_id, col(Photo.content_sha256) == digest
    )
    return session.exec(query).first()


def known_contents(session: Session, event_id: uuid.UUID, digests: list[str]) -> list[str]:
    """Which of these SHA-256 digests the event has a photo of (`ux_photos_event_content`)."""
    if not digests:
        return []
    query = select(Photo.content_sha256).where(
        col(Photo.event_id) == event_id, col(Photo.content_sha256).in_(digests)
    )
    return [d for d in session.exec(query).all() if d is not None]


def count_faces_and_matches(session: Session, photo_id: uuid.UUID) -> tuple[int, int]:
    faces = session.exec(select(sa.func.count()).where(col(Face.photo_id) == photo_id)).one()
    matches = session.exec(select(sa.func.count()).where(col(Match.photo_id) == photo_id)).one()
    return faces, matches


def get_photo(session: Session, photo_id: uuid.UUID) -> Photo | None:
    return session.get(Photo, photo_id)


def list_event_photos(
    session: Session,
    event_id: uuid.UUID,
    *,
    status: PhotoStatus | None,
    uploaded_by: uuid.UUID | None = None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Photo], str | None, int]:
    """Latest taken first (`ix_photos_event_captured`)."""
    where = [col(Photo.event_id) == event_id]
    if status is not None:
        where.append(col(Photo.status) == status)
    if uploaded_by is not None:
        where.append(col(Photo.uploaded_by) == uploaded_by)
    photos, next_cursor = newest_first(
        session, select(Photo).where(*where), col(Photo.captured_at), col(Photo.id),
        cursor=cursor, limit=limit,
    )  # fmt: skip
    return photos, next_cursor, count_rows(session, Photo, *where)


def user_is_matched_to(session: Session, user_id: uuid.UUID, photo_id: uuid.UUID) -> bool:
    """Matched to the photo now, by face or by their bib. A "not me" ends the match, and with
    it the access: the photo is someone else's (taking it back rematches it, and it returns
    if it is theirs)."""
    matched = exists().where(
        col(Match.photo_id) == photo_id,
        col(Match.attendee_id) == col(Attendee.id),
        col(Attendee.user_id) == user_id,
    )
    by_bib = exists().where(
        col(PhotoBib.photo_id) == photo_id,
        col(PhotoBib.event_id) == col(Attendee.event_id),
        col(PhotoBib.bib) == col(Attendee.bib),
        col(PhotoBib.confidence) >= settings.BIB_MIN_CONFIDENCE,
        col(Attendee.user_id) == user_id,
        ~exists().where(
            col(MatchRejection.attendee_id) == col(Attendee.id),
            col(MatchRejection.photo_id) == photo_id,
        ),
    )
    return bool(session.exec(select(matched | by_bib)).one())


def preview_mark(session: Session, event_id: uuid.UUID) -> int | None:
    """The event's current preview mark, read fresh (0: none; None: the event is gone)."""
    row = (
        session.connection()
        .execute(
            sa.select(Event.watermark, Event.mark_version).where(col(Event.id) == event_id)  # type: ignore[call-overload]
        )
        .first()
    )
    return None if row is None else (row[1] + 1 if row[0] else 0)


def list_face_boxes(
    session: Session, photo_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[int, int, int, int]]]:
    """Face boxes (top, right, bottom, left) per photo, left to right."""
    query = (
        sa.select(Face.photo_id, Face.top, Face.right, Face.bottom, Face.left)  # type: ignore[call-overload]
        .where(col(Face.photo_id).in_(photo_ids))
        .order_by(col(Face.left))
    )
    rows = session.connection().execute(query).all()
    boxes: dict[uuid.UUID, list[tuple[int, int, int, int]]] = {}
    for photo_id, top, right, bottom, left in rows:
        boxes.setdefault(photo_id, []).append((top, right, bottom, left))
    return boxes


def people_in_photo(session: Session, photo_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """(attendee id, name, distance, matched at, face box) of each match, nearest first."""
    rows = session.execute(
        sa.select(*(col(c) for c in (Match.attendee_id, User.full_name, Match.distance,
                                     Match.created_at, Face.top, Face.right, Face.bottom,
                                     Face.left)))
        .join(Attendee, col(Attendee.id) == Match.attendee_id)
        .join(User, col(User.id) == Attendee.user_id)
        .join(Face, col(Face.id) == Match.face_id)
        .where(col(Match.photo_id) == photo_id)
        .order_by(col(Match.distance))
    ).all()  # fmt: skip
    return [tuple(row) for row in rows]


def archive_rows(
    session: Session, event_id: uuid.UUID, *, matched_only: bool
) -> list[tuple[str, str]]:
    """(file name, storage key) of the event's photos, oldest first; with `matched_only`,
    of those matched to at least one attendee."""
    query = sa.select(col(Photo.filename), col(Photo.storage_key)).where(
        col(Photo.event_id) == event_id
    )
    if matched_only:
        query = query.where(exists().where(col(Match.photo_id) == col(Photo.id)))
    rows = session.execute(query.order_by(col(Photo.created_at), col(Photo.id))).all()
    return [(filename, key) for filename, key in rows]


def clock_offset(session: Session, event_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """The photographer's camera clock correction at the event, in seconds (0: none)."""
    clock = session.get(EventClock, (event_id, user_id))
    return clock.offset_seconds if clock is not None else 0
