"""Selfies held because their face is another attendee's at the event: the photographer
(or an admin) releases one (a twin, a second account) or refuses it (someone else's face).
Either way the audit log records who decided."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from api.errors import Conflict, NotFound
from api.events.service import refuse_if_deleting
from api.reviews import repository
from api.reviews.schemas import HeldSelfie, HeldSelfies, ReviewDone
from core import audit, queue
from core.db import defer
from core.models import AuditAction, Event, Selfie, SelfieStatus, User, utcnow


def list_held(session: Session, event: Event) -> HeldSelfies:
    data = [
        HeldSelfie(
            selfie_id=selfie.id,
            attendee_id=selfie.attendee_id,
            email=user.email,
            name=user.full_name,
            held_for_attendee_id=selfie.held_for,
            held_for_email=owner.email if owner else None,
            held_for_name=owner.full_name if owner else None,
            created_at=selfie.created_at,
        )
        for selfie, user, owner in repository.list_held(session, event.id)
    ]
    return HeldSelfies(data=data, count=len(data))


def _held(session: Session, event: Event, selfie_id: uuid.UUID) -> Selfie:
    refuse_if_deleting(event)
    selfie = repository.get_held(session, event.id, selfie_id)
    if selfie is None:
        raise NotFound("no such selfie at this event", code="selfie_not_found")
    if selfie.status != SelfieStatus.held:
        raise Conflict("this selfie is not held", code="selfie_not_held")
    return selfie


def release(session: Session, event: Event, selfie_id: uuid.UUID, user: User) -> ReviewDone:
    """The face may be in two accounts (twins, one person twice): matched from now."""
    selfie = _held(session, event, selfie_id)
    selfie.status, selfie.held_for, selfie.updated_at = SelfieStatus.valid, None, utcnow()
    session.add(selfie)
    audit.record(session, AuditAction.selfie_released, event_id=event.id,
                 subject_id=selfie.id, actor=f"{user.role.value}:{user.id}")  # fmt: skip
    defer(session, queue.release_selfie(selfie.id))
    return ReviewDone(selfie_id=selfie.id, status=selfie.status)


def refuse(session: Session, event: Event, selfie_id: uuid.UUID, user: User) -> ReviewDone:
    """Someone else's face: refused, and its encoding deleted."""
    selfie = _held(session, event, selfie_id)
    selfie.status, selfie.encoding, selfie.updated_at = SelfieStatus.rejected, None, utcnow()
    selfie.reason = "refused"
    selfie.detail = "the photographer refused this selfie: it is another attendee's face"
    session.add(selfie)
    actor = f"{user.role.value}:{user.id}"
    audit.record(session, AuditAction.selfie_refused, event_id=event.id,
                 subject_id=selfie.id, actor=actor)  # fmt: skip
    audit.record(session, AuditAction.selfie_encoding_deleted, event_id=event.id,
                 subject_id=selfie.id, actor=actor, reason="refused")  # fmt: skip
    return ReviewDone(selfie_id=selfie.id, status=selfie.status)
