from __future__ import annotations

import uuid

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from api.models import Attendee, Match, Selfie, SelfieStatus


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
    result = session.connection().execute(
        delete(Match).where(col(Match.attendee_id) == attendee_id)
    )
    return result.rowcount
