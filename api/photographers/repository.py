from __future__ import annotations

import uuid

from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, delete, select

from core.models import Contributor, EventClock, Photo, User

_MOVE = text(
    """
UPDATE photos SET captured_at = taken_at + make_interval(secs => :offset)
WHERE event_id = :event_id AND uploaded_by = :user_id AND taken_at IS NOT NULL
"""
)


def contributors(session: Session, event_id: uuid.UUID) -> list[Contributor]:
    query = select(Contributor).where(col(Contributor.event_id) == event_id)
    return list(session.exec(query.order_by(col(Contributor.created_at))).all())


def add_contributor(session: Session, contributor: Contributor) -> bool:
    """Whether it is new (an address invited twice is one contributor)."""
    result = session.exec(
        insert(Contributor)
        .values(id=contributor.id, event_id=contributor.event_id, email=contributor.email,
                invited_by=contributor.invited_by, created_at=contributor.created_at)
        .on_conflict_do_nothing(index_elements=["event_id", "email"])
    )  # fmt: skip
    return bool(result.rowcount)


def remove_contributor(session: Session, event_id: uuid.UUID, email: str) -> int:
    return session.exec(
        delete(Contributor).where(col(Contributor.event_id) == event_id,
                                  col(Contributor.email) == email)
    ).rowcount  # fmt: skip


def photos_by_uploader(session: Session, event_id: uuid.UUID) -> dict[uuid.UUID, int]:
    rows = session.exec(
        select(Photo.uploaded_by, func.count())
        .where(col(Photo.event_id) == event_id, col(Photo.uploaded_by).is_not(None))
        .group_by(col(Photo.uploaded_by))
    ).all()
    return {user_id: count for user_id, count in rows if user_id is not None}


def clocks(session: Session, event_id: uuid.UUID) -> dict[uuid.UUID, int]:
    rows = session.exec(select(EventClock).where(col(EventClock.event_id) == event_id)).all()
    return {c.user_id: c.offset_seconds for c in rows}


def users_by_id(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, User]:
    if not ids:
        return {}
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids))).all()}


def users_by_email(session: Session, emails: set[str]) -> dict[str, User]:
    if not emails:
        return {}
    found = session.exec(select(User).where(func.lower(col(User.email)).in_(emails))).all()
    return {u.email.lower(): u for u in found}


def set_clock(session: Session, event_id: uuid.UUID, user_id: uuid.UUID, offset: int) -> int:
    """Record the correction and move the photographer's photos; how many moved."""
    session.exec(
        insert(EventClock)
        .values(event_id=event_id, user_id=user_id, offset_seconds=offset)
        .on_conflict_do_update(index_elements=["event_id", "user_id"],
                               set_={"offset_seconds": offset})
    )  # fmt: skip
    moved = session.execute(_MOVE, {"event_id": event_id, "user_id": user_id, "offset": offset})
    return int(moved.rowcount or 0)  # type: ignore[attr-defined]
