from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from core.models import Attendee, Event, EventStatus, Selfie, SelfieStatus, User


def list_held(session: Session, event_id: uuid.UUID) -> list[Any]:
    """The event's held selfies, oldest first, with who sent them and whose face it is."""
    owner, owner_user = aliased(Attendee), aliased(User)
    return list(
        session.exec(
            select(Selfie, User, owner_user)
            .join(Attendee, col(Attendee.id) == Selfie.attendee_id)
            .join(User, col(User.id) == Attendee.user_id)
            .outerjoin(owner, col(owner.id) == Selfie.held_for)
            .outerjoin(owner_user, col(owner_user.id) == owner.user_id)
            .where(Selfie.event_id == event_id, Selfie.status == SelfieStatus.held)
            .order_by(col(Selfie.created_at))
        ).all()
    )


def get_held(session: Session, event_id: uuid.UUID, selfie_id: uuid.UUID) -> Selfie | None:
    return session.exec(
        select(Selfie).where(Selfie.id == selfie_id, Selfie.event_id == event_id).with_for_update()
    ).first()


def untold_held(session: Session, limit: int) -> list[Any]:
    """Held selfies whose earlier attendee was not told yet, with that attendee's user and
    the event, locked (skipping rows another pass holds)."""
    return list(session.exec(
        select(Selfie, User, Event, Attendee.locale)
        .join(Attendee, col(Attendee.id) == Selfie.held_for)
        .join(User, col(User.id) == Attendee.user_id)
        .join(Event, col(Event.id) == Selfie.event_id)
        .where(
            Selfie.status == SelfieStatus.held,
            col(Selfie.held_told_at).is_(None),
            Event.status != EventStatus.deleting,
        )
        .limit(limit)
        .with_for_update(of=Selfie, skip_locked=True)
    ).all())  # fmt: skip
