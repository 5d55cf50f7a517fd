from __future__ import annotations

import uuid

from sqlalchemy import exists
from sqlmodel import Session, col, select

from api.models import Match


def list_attendee_matches(session: Session, attendee_id: uuid.UUID) -> list[Match]:
    return list(
        session.exec(
            select(Match)
            .where(Match.attendee_id == attendee_id)
            .order_by(col(Match.created_at).desc(), col(Match.distance))
        ).all()
    )


def has_match(session: Session, attendee_id: uuid.UUID, photo_id: uuid.UUID) -> bool:
    query = select(
        exists().where(col(Match.attendee_id) == attendee_id, col(Match.photo_id) == photo_id)
    )
    return bool(session.exec(query).one())
