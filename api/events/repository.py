from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import exists, func, or_, text, update
from sqlmodel import Session, col, select

from api.pagination import count_rows, newest_first
from core.config import settings
from core.models import Contributor, Event, EventStatus, FaceOptOut, Photo


def get_event(
    session: Session, event_id: uuid.UUID, *, for_update: bool = False, for_share: bool = False
) -> Event | None:
    """The event; `for_share` holds its row against a deletion's status change until the
    transaction ends (an upload), `for_update` against any other writer."""
    lock: bool | dict[str, bool] = {"read": True} if for_share else for_update
    return session.get(Event, event_id, with_for_update=lock)


def get_event_by_code(session: Session, code: str, *, for_share: bool = False) -> Event | None:
    """The event a code names; none for an event being deleted, whose code is forgotten."""
    query = select(Event).where(Event.code == code, Event.status != EventStatus.deleting)
    return session.exec(query.with_for_update(read=True) if for_share else query).first()


def list_events(
    session: Session,
    *,
    owner_id: uuid.UUID | None,
    contributor_email: str | None = None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Event], str | None, int]:
    """Every event (`owner_id` None), or the owner's and those `contributor_email` was
    invited to."""
    where = []
    if owner_id is not None:
        invited = select(Contributor.event_id).where(col(Contributor.email) == contributor_email)
        where = [or_(col(Event.owner_id) == owner_id, col(Event.id).in_(invited))]
    query = select(Event).where(*where)
    events, next_cursor = newest_first(
        session, query, col(Event.created_at), col(Event.id), cursor=cursor, limit=limit
    )
    return events, next_cursor, count_rows(session, Event, *where)


_PROGRESS = text(
    """
    SELECT
      (SELECT count(*) FROM photos WHERE event_id = :e) AS photos_total,
      (SELECT count(*) FROM photos WHERE event_id = :e AND status = 'pending') AS photos_pending,
      (SELECT count(*) FROM photos WHERE event_id = :e AND status = 'indexing') AS photos_indexing,
      (SELECT count(*) FROM photos WHERE event_id = :e AND status = 'indexed') AS photos_indexed,
      (SELECT count(*) FROM photos WHERE event_id = :e AND status = 'failed') AS photos_failed,
      (SELECT count(*) FROM faces WHERE event_id = :e) AS faces,
      (SELECT count(*) FROM attendees WHERE event_id = :e) AS attendees,
      (SELECT count(*) FROM matches WHERE event_id = :e) AS matches,
      (SELECT count(DISTINCT attendee_id) FROM matches WHERE event_id = :e) AS attendees_matched
    """
)


def progress_counts(session: Session, event_id: uuid.UUID) -> dict[str, int]:
    row = session.connection().execute(_PROGRESS, {"e": event_id}).mappings().one()
    return dict(row)


def forget_opt_out_encodings(session: Session, event_id: uuid.UUID) -> list[uuid.UUID]:
    """Delete the encodings the event's opt-outs kept; the ids of those that had one."""
    rows = session.connection().execute(
        update(FaceOptOut)
        .where(col(FaceOptOut.event_id) == event_id, col(FaceOptOut.encoding).is_not(None))
        .values(encoding=None)
        .returning(col(FaceOptOut.id))
    )
    return [row[0] for row in rows]


def events_to_close(session: Session, now: datetime) -> list[uuid.UUID]:
    """Open events whose last upload (or creation, before any) is older than their
    auto-close days (their own, else the platform's)."""
    last_upload = (
        select(func.max(Photo.created_at))
        .where(col(Photo.event_id) == col(Event.id))
        .scalar_subquery()
    )
    days = func.coalesce(col(Event.auto_close_days), settings.AUTO_CLOSE_DAYS or 0)
    idle_since = func.coalesce(last_upload, col(Event.created_at))
    query = select(Event.id).where(
        Event.status == EventStatus.open,
        days > 0,
        idle_since + func.make_interval(0, 0, 0, days) < now,
    )
    return list(session.exec(query).all())


def is_contributor(session: Session, event_id: uuid.UUID, email: str) -> bool:
    query = select(
        exists().where(col(Contributor.event_id) == event_id, col(Contributor.email) == email)
    )
    return bool(session.exec(query).one())
