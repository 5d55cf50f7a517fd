"""Notices about an account itself: "someone joined this event with your face".

The reconciler calls `queue_notices` on every pass: each held selfie (`workers/jobs/selfies.py`)
whose earlier attendee was not told yet gets one mail to that attendee, once.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from api.mail.outbox import public_url, queue_mail
from core.models import Attendee, EmailKind, Event, EventStatus, Selfie, SelfieStatus, User, utcnow

BATCH = 500


def queue_notices(session: Session) -> int:
    """Mail the attendees whose face a new held selfie is; how many mails."""
    rows = session.exec(
        select(Selfie, User, Event)
        .join(Attendee, col(Attendee.id) == Selfie.held_for)
        .join(User, col(User.id) == Attendee.user_id)
        .join(Event, col(Event.id) == Selfie.event_id)
        .where(
            Selfie.status == SelfieStatus.held,
            col(Selfie.held_told_at).is_(None),
            Event.status != EventStatus.deleting,
        )
        .limit(BATCH)
        .with_for_update(of=Selfie, skip_locked=True)
    ).all()
    for selfie, user, event in rows:
        photographer = session.get(User, event.owner_id)
        queue_mail(
            session,
            kind=EmailKind.notice,
            to=user.email,
            template="face_reused",
            event_id=event.id,
            attendee_id=selfie.held_for,
            name=user.full_name,
            event_name=event.name,
            event_url=public_url(f"/e/{event.code}"),
            contact=photographer.email if photographer else "",
        )
        selfie.held_told_at = utcnow()
        session.add(selfie)
    return len(rows)
