from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import exists, insert, tuple_
from sqlmodel import Session, col, delete, func, select

from api.pagination import decode_cursor, encode_cursor, newest_first
from core.models import Attendee, BibPass, Photo, PhotoBib, Runner, utcnow


def page_bib_photos(
    session: Session, event_id: uuid.UUID, bib: str, min_confidence: float,
    *, cursor: str | None, limit: int,
) -> tuple[list[tuple[Photo, PhotoBib]], str | None]:  # fmt: skip
    """A page of the photos where `bib` was read at `min_confidence` or more, along the
    course: by capture time, first taken first."""
    query = (
        select(Photo, PhotoBib)
        .join(PhotoBib, col(PhotoBib.photo_id) == col(Photo.id))
        .where(
            col(PhotoBib.event_id) == event_id,
            col(PhotoBib.bib) == bib,
            col(PhotoBib.confidence) >= min_confidence,
        )
    )
    if cursor is not None:
        at, ident = decode_cursor(cursor)
        query = query.where(tuple_(col(Photo.captured_at), col(Photo.id)) > (at, ident))
    rows = session.exec(
        query.order_by(col(Photo.captured_at), col(Photo.id)).limit(limit + 1)
    ).all()
    page = [(photo, read) for photo, read in rows[:limit]]
    if len(rows) <= limit:
        return page, None
    return page, encode_cursor(page[-1][0].captured_at, page[-1][0].id)


def count_bib_photos(session: Session, event_id: uuid.UUID, bib: str, min_confidence: float) -> int:
    return session.exec(
        select(func.count()).where(
            col(PhotoBib.event_id) == event_id,
            col(PhotoBib.bib) == bib,
            col(PhotoBib.confidence) >= min_confidence,
        )
    ).one()


def bib_in_photo(
    session: Session, photo_id: uuid.UUID, bib: str, min_confidence: float
) -> Photo | None:
    """The photo, if `bib` was read in it at `min_confidence` or more."""
    return session.exec(
        select(Photo)
        .join(PhotoBib, col(PhotoBib.photo_id) == col(Photo.id))
        .where(
            col(Photo.id) == photo_id,
            col(PhotoBib.bib) == bib,
            col(PhotoBib.confidence) >= min_confidence,
        )
    ).first()


def has_start_list(session: Session, event_id: uuid.UUID) -> bool:
    return bool(session.exec(select(exists().where(col(Runner.event_id) == event_id))).one())


def get_runner(session: Session, event_id: uuid.UUID, bib: str) -> Runner | None:
    return session.exec(
        select(Runner).where(col(Runner.event_id) == event_id, col(Runner.bib) == bib)
    ).first()


def replace_start_list(
    session: Session, event_id: uuid.UUID, rows: Iterable[dict[str, str | None]]
) -> None:
    """The event's start list becomes `rows` (bib, name, email), in batches."""
    session.exec(delete(Runner).where(col(Runner.event_id) == event_id))
    now = utcnow()
    batch: list[dict[str, object]] = []
    for row in rows:
        batch.append({"id": uuid.uuid4(), "event_id": event_id, "created_at": now, **row})
        if len(batch) == 1000:
            session.execute(insert(Runner), batch)
            batch = []
    if batch:
        session.execute(insert(Runner), batch)


def delete_start_list(session: Session, event_id: uuid.UUID) -> int:
    return session.exec(delete(Runner).where(col(Runner.event_id) == event_id)).rowcount


def page_runners(
    session: Session, event_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[Runner], str | None, int]:
    query = select(Runner).where(col(Runner.event_id) == event_id)
    rows, next_cursor = newest_first(
        session, query, col(Runner.created_at), col(Runner.id), cursor=cursor, limit=limit
    )
    count = session.exec(
        select(func.count()).select_from(Runner).where(col(Runner.event_id) == event_id)
    ).one()
    return list(rows), next_cursor, count


def add_pass(session: Session, bib_pass: BibPass) -> None:
    session.add(bib_pass)


def get_pass(session: Session, token_sha256: str) -> BibPass | None:
    return session.exec(
        select(BibPass).where(
            col(BibPass.token_sha256) == token_sha256, col(BibPass.expires_at) > utcnow()
        )
    ).first()


def purge_expired_passes(session: Session) -> int:
    return session.exec(delete(BibPass).where(col(BibPass.expires_at) <= utcnow())).rowcount


def set_attendee_bib(session: Session, attendee: Attendee, bib: str | None) -> None:
    attendee.bib = bib
    session.add(attendee)
