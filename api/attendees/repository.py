from __future__ import annotations

import uuid

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from core.models import (
    Attendee,
    Event,
    EventStatus,
    ForgetOwed,
    Match,
    MatchRejection,
    Selfie,
    SelfieStatus,
)


def get_attendee(session: Session, user_id: uuid.UUID, event_id: uuid.UUID) -> Attendee | None:
    return session.exec(
        select(Attendee).where(Attendee.user_id == user_id, Attendee.event_id == event_id)
    ).first()


def list_selfies(session: Session, attendee_id: uuid.UUID) -> list[Selfie]:
    return list(
        session.exec(
            select(Selfie)
            .where(Selfie.attendee_id == attendee_id)
            .order_by(col(Selfie.created_at).desc())
        ).all()
    )


def count_active_selfies(session: Session, attendee_id: uuid.UUID) -> int:
    return session.exec(
        select(func.count())
        .select_from(Selfie)
        .where(
            Selfie.attendee_id == attendee_id,
            col(Selfie.status).in_([SelfieStatus.pending, SelfieStatus.valid]),
        )
    ).one()


def delete_matches(session: Session, attendee_id: uuid.UUID) -> int:
    """The attendee's matches and their "not me"s: nothing of theirs points at a photo."""
    result = session.connection().execute(
        delete(Match).where(col(Match.attendee_id) == attendee_id)
    )
    session.connection().execute(
        delete(MatchRejection).where(col(MatchRejection.attendee_id) == attendee_id)
    )
    return result.rowcount


def list_attendances(session: Session, user_id: uuid.UUID) -> list[tuple[Attendee, Event, int]]:
    """Each event the account joined (not being deleted), newest first, with its matches."""
    matched = (
        select(func.count()).select_from(Match)
        .where(col(Match.attendee_id) == col(Attendee.id)).scalar_subquery()
    )  # fmt: skip
    rows = session.exec(
        select(Attendee, Event, matched)
        .join(Event, col(Event.id) == Attendee.event_id)
        .where(Attendee.user_id == user_id, Event.status != EventStatus.deleting)
        .order_by(col(Attendee.created_at).desc())
    ).all()
    return [(attendee, event, int(count)) for attendee, event, count in rows]


def owe_forget(session: Session, attendee: Attendee) -> None:
    """The attendee's recomputation is owed (`forgets_owed`) until its job has run."""
    session.merge(ForgetOwed(attendee_id=attendee.id, event_id=attendee.event_id))
