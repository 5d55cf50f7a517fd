"""Selfies held because their face is another attendee's at the event: the photographer
(or an admin) releases one (a twin, a second account) or refuses it (someone else's face).
Either way the audit log records who decided.

The earlier attendee is told, once, by mail: the reconciler calls `queue_notices` on every
pass for each held selfie (`workers/jobs/selfies.py`) whose attendee was not told yet.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from api.auth.repository import get_user
from api.branding import service as branding
from api.errors import Conflict, NotFound
from api.events.service import join_url, refuse_if_deleting
from api.mail.service import queue_mail
from api.reviews import repository
from api.reviews.schemas import HeldSelfie, HeldSelfies, ReviewDone
from core import audit, erasure, queue
from core.db import defer
from core.erasure import Erased, Reason
from core.models import AuditAction, EmailKind, Event, Selfie, SelfieStatus, User, utcnow


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
    erasure.record(session, Erased(selfie_encodings=1), event_id=event.id,
                   subject_id=selfie.id, actor=actor, reason=Reason.refused)  # fmt: skip
    return ReviewDone(selfie_id=selfie.id, status=selfie.status)


NOTICES_BATCH = 500


def queue_notices(session: Session) -> int:
    """Mail the attendees whose face a new held selfie is; how many mails."""
    rows = repository.untold_held(session, NOTICES_BATCH)
    for selfie, user, event, locale in rows:
        photographer = get_user(session, event.owner_id)
        queue_mail(
            session,
            kind=EmailKind.notice,
            to=user.email,
            template="face_reused",
            event_id=event.id,
            attendee_id=selfie.held_for,
            name=user.full_name,
            event_name=event.name,
            event_url=join_url(event),
            contact=photographer.email if photographer else "",
            brand=branding.mail_brand(event),
            locale=locale,
        )
        selfie.held_told_at = utcnow()
        session.add(selfie)
    return len(rows)
