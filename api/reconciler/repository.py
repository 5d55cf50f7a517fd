from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import exists, text, tuple_
from sqlmodel import Session, col, delete, func, select

from core.models import (
    Event,
    EventStatus,
    Face,
    FaceOptOut,
    ForgetOwed,
    Match,
    Photo,
    PhotoStatus,
    Selfie,
    WebhookDelivery,
)

_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtext('facematch-reconciler'))")
REMATCH_OWED = col(Event.rematch_requested_at).is_not(None) & (
    col(Event.rematched_at).is_(None) | (col(Event.rematched_at) < col(Event.rematch_requested_at))
)
"""An event whose rematch was asked for after its last one ran."""
Row = TypeVar("Row", Photo, Selfie, FaceOptOut)


def try_lock(session: Session) -> bool:
    """The pass's advisory lock, for this transaction; false if another process holds it."""
    return bool(session.connection().execute(_LOCK).scalar())


def stale(
    session: Session,
    model: type[Row],
    owed: Sequence[str],
    cutoff: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Row]:
    """Rows in an `owed` status unchanged since `cutoff`, after the keyset `after`."""
    query = select(model).where(col(model.status).in_(owed), model.updated_at < cutoff)
    if after is not None:
        query = query.where(tuple_(col(model.updated_at), col(model.id)) > after)
    return session.exec(query.order_by(col(model.updated_at), col(model.id)).limit(limit)).all()


def rematches_owed(session: Session, cutoff: datetime) -> Sequence[uuid.UUID]:
    return session.exec(
        select(Event.id).where(col(Event.rematch_requested_at) < cutoff, REMATCH_OWED)
    ).all()


def webhooks_due(session: Session) -> Sequence[uuid.UUID]:
    """Events with webhook deliveries owed and due."""
    return session.exec(
        select(WebhookDelivery.event_id)
        .where(
            col(WebhookDelivery.delivered_at).is_(None),
            col(WebhookDelivery.failed_at).is_(None),
            col(WebhookDelivery.next_attempt_at) <= func.now(),
        )
        .distinct()
    ).all()


def purge_webhook_log(session: Session, before: datetime) -> int:
    """Delivered or given-up deliveries made before `before`: the studio's log is recent."""
    result = session.exec(
        delete(WebhookDelivery).where(
            col(WebhookDelivery.created_at) < before,
            (col(WebhookDelivery.delivered_at).is_not(None))
            | (col(WebhookDelivery.failed_at).is_not(None)),
        )
    )
    return int(result.rowcount)


def sweeps_owed(session: Session) -> Sequence[uuid.UUID]:
    """Events whose previews under an older watermark are not yet deleted."""
    return session.exec(
        select(Event.id).where(
            col(Event.marks_swept) < col(Event.mark_version), Event.status != EventStatus.deleting
        )
    ).all()


def deletions_owed(session: Session, cutoff: datetime) -> Sequence[uuid.UUID]:
    return session.exec(
        select(Event.id).where(
            Event.status == EventStatus.deleting, col(Event.deletion_requested_at) < cutoff
        )
    ).all()


def forgets_owed(session: Session, cutoff: datetime) -> Sequence[uuid.UUID]:
    return session.exec(
        select(ForgetOwed.attendee_id).where(col(ForgetOwed.requested_at) < cutoff)
    ).all()


def purges_owed(session: Session, closed_before: datetime) -> Sequence[uuid.UUID]:
    """Closed events past retention that still hold unmatched faces, with no rematch owed."""
    unmatched_face = (
        select(Face.id)
        .where(
            col(Face.event_id) == col(Event.id),
            ~exists().where(col(Match.face_id) == col(Face.id)),
        )
        .exists()
    )
    return session.exec(
        select(Event.id).where(
            Event.status == EventStatus.closed,
            col(Event.closed_at) < closed_before,
            ~REMATCH_OWED,
            unmatched_face,
        )
    ).all()


# Closed events past their retention: their own days, else the platform's (if any).
_PAST_RETENTION = text(
    """
SELECT id FROM events
WHERE status = 'closed'
  AND closed_at
      + make_interval(days => coalesce(retention_days, CAST(:default_days AS int))) < now()
ORDER BY closed_at LIMIT :limit
FOR UPDATE SKIP LOCKED
"""
)


def past_retention(session: Session, default_days: int | None, limit: int) -> Sequence[uuid.UUID]:
    """Closed events past their retention, locked (skipping those another pass holds)."""
    params = {"default_days": default_days, "limit": limit}
    return session.connection().execute(_PAST_RETENTION, params).scalars().all()


def bib_reads_owed(
    session: Session, cutoff: datetime, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> Sequence[tuple[datetime, uuid.UUID]]:
    """Indexed photos of events that read bibs, indexed before `cutoff` and not read yet
    (the event turned bib reading on after them), after the keyset `after`."""
    query = (
        select(Photo.indexed_at, Photo.id)
        .join(Event, col(Event.id) == col(Photo.event_id))
        .where(
            col(Event.bibs_enabled),
            col(Photo.status) == PhotoStatus.indexed,
            col(Photo.bibs_read_at).is_(None),
            col(Photo.indexed_at) < cutoff,
        )
    )
    if after is not None:
        query = query.where(tuple_(col(Photo.indexed_at), col(Photo.id)) > after)
    rows = session.exec(query.order_by(col(Photo.indexed_at), col(Photo.id)).limit(limit)).all()
    return [(at, pid) for at, pid in rows if at is not None]
