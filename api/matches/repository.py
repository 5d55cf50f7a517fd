from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, delete, select

from api.pagination import decode_cursor, encode_cursor
from core.config import settings
from core.models import Match, MatchRejection, Photo, PhotoBib, utcnow

_MINE = """
WITH mine AS (
    SELECT m.photo_id, m.created_at AS found_at, m.distance, true AS by_face, false AS by_bib
    FROM matches m WHERE m.attendee_id = :attendee_id
    UNION ALL
    SELECT pb.photo_id, coalesce(p.bibs_read_at, p.created_at), NULL, false, true
    FROM photo_bibs pb JOIN photos p ON p.id = pb.photo_id
    WHERE CAST(:bib AS varchar) IS NOT NULL AND pb.event_id = :event_id AND pb.bib = :bib
      AND pb.confidence >= :min_confidence
      AND NOT EXISTS (SELECT 1 FROM match_rejections r
                      WHERE r.attendee_id = :attendee_id AND r.photo_id = pb.photo_id)
), found AS (
    SELECT photo_id, max(found_at) AS found_at, min(distance) AS distance,
           bool_or(by_face) AS by_face, bool_or(by_bib) AS by_bib
    FROM mine GROUP BY photo_id
)
"""
"""An attendee's photos: their face matches and, when they have a bib that counts, the
photos where it was read (less those they said "not me" to), one row a photo."""
_MINE_DIGEST = """
, digest AS (
    SELECT count(*) AS n,
           coalesce(md5(string_agg(concat_ws('@', f.photo_id, f.found_at, f.distance, f.by_bib,
                                             p.captured_at), ','
                                   ORDER BY f.found_at, f.photo_id)), '') AS digest
    FROM found f JOIN photos p ON p.id = f.photo_id
)
"""
"""How many photos the attendee has, and a digest that changes whenever one of them comes,
goes or changes."""
_PAGE_AND_DIGEST = """
SELECT d.n, d.digest, page.* FROM digest d LEFT JOIN page ON true ORDER BY {order}
"""
"""A page with the count and digest of all the photos: one statement, so one snapshot.
Read apart, a match committed between the two reads made a page list more photos than
its count."""
_MINE_PAGE = text(
    _MINE
    + _MINE_DIGEST
    + """
, page AS (
    SELECT photo_id, found_at AS position, distance, by_face, by_bib, found_at FROM found
    WHERE CAST(:after_at AS timestamptz) IS NULL
       OR (found_at, photo_id) < (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))
    ORDER BY found_at DESC, photo_id DESC LIMIT :limit
)
"""
    + _PAGE_AND_DIGEST.format(order="page.position DESC, page.photo_id DESC")
)
"""Most recently found first."""
_MINE_ALONG = text(
    _MINE
    + _MINE_DIGEST
    + """
, page AS (
    SELECT f.photo_id, p.captured_at AS position, f.distance, f.by_face, f.by_bib, f.found_at
    FROM found f JOIN photos p ON p.id = f.photo_id
    WHERE CAST(:after_at AS timestamptz) IS NULL
       OR (p.captured_at, f.photo_id) > (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))
    ORDER BY p.captured_at, f.photo_id LIMIT :limit
)
"""
    + _PAGE_AND_DIGEST.format(order="page.position, page.photo_id")
)
"""The same photos along a race's course: by capture time, first taken first."""


@dataclass(frozen=True)
class Found:
    """One of an attendee's photos, and how it was found."""

    photo: Photo
    found_at: datetime
    distance: float | None
    """The face match's distance; None for a photo found by bib alone."""
    by_face: bool
    by_bib: bool


def _mine(attendee_id: uuid.UUID, event_id: uuid.UUID, bib: str | None) -> dict[str, Any]:
    return {"attendee_id": attendee_id, "event_id": event_id, "bib": bib,
            "min_confidence": settings.BIB_MIN_CONFIDENCE}  # fmt: skip


@dataclass(frozen=True)
class Page:
    """A page of an attendee's photos, with the count and digest of all of them, as of one
    moment."""

    found: list[Found]
    next_cursor: str | None
    count: int
    digest: str


def page_attendee_photos(
    session: Session, attendee_id: uuid.UUID, event_id: uuid.UUID, bib: str | None,
    *, cursor: str | None, limit: int, along_course: bool = False,
) -> Page:  # fmt: skip
    """A page of the attendee's photos (`_MINE`): most recently found first, or along the
    course (`_MINE_ALONG`)."""
    after = decode_cursor(cursor) if cursor is not None else (None, None)
    result = session.execute(
        _MINE_ALONG if along_course else _MINE_PAGE,
        {**_mine(attendee_id, event_id, bib), "after_at": after[0], "after_id": after[1],
         "limit": limit + 1},
    ).all()  # fmt: skip
    count, digest = result[0][0], result[0][1]
    # (photo, position, distance, by face, by bib, found at); none on an empty page
    rows = [tuple(r[2:]) for r in result if r[2] is not None]
    photos = {
        p.id: p
        for p in session.exec(select(Photo).where(col(Photo.id).in_([r[0] for r in rows]))).all()
    }
    found = [
        Found(photos[r[0]], r[5] if along_course else r[1], r[2], r[3], r[4])
        for r in rows
        if r[0] in photos
    ]  # a photo deleted between the two reads is left out
    if len(rows) <= limit:
        return Page(found, None, count, digest)
    last = rows[limit - 1]
    return Page(found[:limit], encode_cursor(last[1], last[0]), count, digest)


def list_attendee_photos(
    session: Session, attendee_id: uuid.UUID, event_id: uuid.UUID, bib: str | None
) -> list[Photo]:
    """Every photo of the attendee's, in the order they were taken."""
    page = page_attendee_photos(
        session, attendee_id, event_id, bib, cursor=None, limit=100_000, along_course=True
    )
    return [f.photo for f in page.found]


def has_bib_photo(
    session: Session, event_id: uuid.UUID, bib: str | None, photo_id: uuid.UUID
) -> bool:
    if bib is None:
        return False
    query = select(
        exists().where(
            col(PhotoBib.photo_id) == photo_id,
            col(PhotoBib.event_id) == event_id,
            col(PhotoBib.bib) == bib,
            col(PhotoBib.confidence) >= settings.BIB_MIN_CONFIDENCE,
        )
    )
    return bool(session.exec(query).one())


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
