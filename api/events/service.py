from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

from fastapi import Request
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api import ratelimit
from api.auth.repository import get_user_by_email
from api.errors import BadRequest, Conflict, NotFound, NotPermitted
from api.events import repository
from api.events.codes import new_code, normalize_code
from api.events.schemas import (
    DeletionAccepted,
    EventCreate,
    EventDetail,
    EventProgress,
    EventPublic,
    EventsPublic,
    EventUpdate,
    RematchAccepted,
)
from api.links import public_url
from core import audit, erasure, queue
from core.config import settings
from core.db import defer
from core.erasure import Erased, Reason
from core.models import AuditAction, Event, EventStatus, Role, User, utcnow
from core.redis import get_redis

_CODE_ATTEMPTS = 5


def join_url(event: Event) -> str:
    """The link attendees open from the event's QR code."""
    return public_url(f"/e/{event.code}")


def get_event(session: Session, event_id: uuid.UUID) -> Event | None:
    return repository.get_event(session, event_id)


def get_event_for_share(session: Session, event_id: uuid.UUID) -> Event | None:
    """The event, its row held against a deletion until the transaction ends."""
    return repository.get_event(session, event_id, for_share=True)


def get_event_for_update(session: Session, event_id: uuid.UUID) -> Event | None:
    return repository.get_event(session, event_id, for_update=True)


def events_to_close(session: Session) -> list[uuid.UUID]:
    """Open events idle past their auto-close days (`close_event` closes each)."""
    return list(repository.events_to_close(session, utcnow()))


def is_live(event: Event | None) -> bool:
    """The event exists and is not being deleted (a closed one still serves its attendees)."""
    return event is not None and event.status != EventStatus.deleting


def live_event(session: Session, event_id: uuid.UUID, *, for_share: bool = False) -> Event | None:
    """The event unless it is gone or being deleted; `for_share` holds its row against a
    deletion until the transaction ends."""
    event = repository.get_event(session, event_id, for_share=for_share)
    return event if is_live(event) else None


def require_open(event: Event | None, *, closed: str = "this event is closed") -> Event:
    """The one answer to "may this event take photos, registrations and selfies?": a 409
    `event_deleting` while it is deleted, `event_closed` once it is closed."""
    if event is not None:
        refuse_if_deleting(event)
    if event is None or event.status != EventStatus.open:
        raise Conflict(closed, code="event_closed")
    return event


EventRole = Literal["owner", "admin", "contributor"]


def to_public(event: Event, *, role: EventRole | None = None) -> EventPublic:
    return EventPublic(
        your_role=role,
        id=event.id,
        name=event.name,
        code=event.code,
        owner_id=event.owner_id,
        status=event.status,
        tolerance=event.effective_tolerance(),
        join_url=join_url(event),
        created_at=event.created_at,
        closed_at=event.closed_at,
        retention_days=event.retention_days,
        selfie_upload=event.allows_selfie_upload(),
        auto_close_days=event.effective_auto_close_days(),
        deletes_at=deletes_at(event),
        bibs_enabled=event.bibs_enabled,
        bib_min=event.bib_min,
        bib_max=event.bib_max,
        bib_search=event.bib_search,
        accent_color=event.accent_color,
        welcome_text=event.welcome_text,
        logo_url=logo_url(event),
        watermark=event.watermark,
        watermark_text=event.watermark_text,
        originals_downloadable=event.originals_downloadable,
        zips_allowed=event.zips_allowed,
    )


def logo_url(event: Event) -> str | None:
    """The logo's public address (api/branding/); its version changes with the logo, so
    it may be cached."""
    if event.logo_key is None:
        return None
    return f"/api/e/{event.code}/logo?v={event.logo_version}"


def deletes_at(event: Event) -> datetime | None:
    """When the retention rule deletes the event (closed, with days set for it or for all)."""
    days = event.retention_days or settings.EVENT_RETENTION_DAYS
    if event.status != EventStatus.closed or event.closed_at is None or days is None:
        return None
    return event.closed_at + timedelta(days=days)


def refuse_if_deleting(event: Event) -> None:
    if event.status == EventStatus.deleting:
        raise Conflict("this event is being deleted", code="event_deleting")


def list_events(session: Session, user: User, *, cursor: str | None, limit: int) -> EventsPublic:
    """The user's events and those they contribute to; every event for an admin."""
    owner = None if user.role == Role.admin else user.id
    events, next_cursor, count = repository.list_events(
        session, owner_id=owner, contributor_email=user.email.lower(), cursor=cursor, limit=limit
    )
    data = [to_public(e, role=role_in(user, e)) for e in events]
    return EventsPublic(data=data, count=count, next_cursor=next_cursor)


def role_in(user: User, event: Event) -> EventRole:
    """What the user is at an event they may see: its owner, an admin, or a contributor."""
    if event.owner_id == user.id:
        return "owner"
    return "admin" if user.role == Role.admin else "contributor"


def get_event_for_contributor(
    session: Session, user: User, event_id: uuid.UUID, *, for_share: bool = False
) -> Event:
    """The event, if `user` owns it, is an admin, or was invited to contribute to it (an
    active photographer account with the invited address): upload, see its counts and
    their own photos. Everything else stays with the owner (`get_owned_event`)."""
    event = repository.get_event(session, event_id, for_share=for_share)
    if event is None:
        raise NotFound("no such event", code="event_not_found")
    if user.role == Role.admin or event.owner_id == user.id:
        return event
    if repository.is_contributor(session, event.id, user.email.lower()):
        return event
    raise NotPermitted("this event belongs to another photographer", code="not_owner")


def get_event_by_code(session: Session, code: str, *, for_share: bool = False) -> Event | None:
    """The event a typed or scanned code names, however it was typed; none for an event
    being deleted, whose code is forgotten. `for_share` as for `live_event`."""
    canonical = normalize_code(code)
    if canonical is None:
        return None
    return repository.get_event_by_code(session, canonical, for_share=for_share)


def event_for_code(session: Session, request: Request, code: str) -> Event | None:
    """The event with this code, for a page or a route anyone may open. A client that missed
    too often this minute is refused before the lookup: a code has 28 bits, and without a
    limit they are worth guessing."""
    redis = get_redis()
    ratelimit.check_code_misses(redis, request)
    event = get_event_by_code(session, code)
    if event is None:
        ratelimit.count_code_miss(redis, request)
    return event


def _check_bib_range(event: Event) -> None:
    if event.bib_min is not None and event.bib_max is not None and event.bib_min > event.bib_max:
        raise BadRequest("bib_min is more than bib_max", code="bad_bib_range")


def create_event(session: Session, owner: User, data: EventCreate) -> Event:
    for _ in range(_CODE_ATTEMPTS):
        event = Event(**data.model_dump(), owner_id=owner.id, code=new_code())
        _check_bib_range(event)
        try:
            with session.begin_nested():
                session.add(event)
        except IntegrityError:
            continue  # a code collision: one in ~10^8 per existing event
        return event
    raise Conflict("could not allocate a unique event code, retry", code="code_exhausted")


def get_owned_event(
    session: Session,
    user: User,
    event_id: uuid.UUID,
    *,
    for_update: bool = False,
    for_share: bool = False,
) -> Event:
    """The event, if `user` owns it or is an admin (row locks: `repository.get_event`)."""
    event = repository.get_event(session, event_id, for_update=for_update, for_share=for_share)
    if event is None:
        raise NotFound("no such event", code="event_not_found")
    if user.role != Role.admin and event.owner_id != user.id:
        raise NotPermitted("this event belongs to another photographer", code="not_owner")
    return event


def read_event(session: Session, event: Event, *, role: EventRole | None = None) -> EventDetail:
    progress = EventProgress(
        **repository.progress_counts(session, event.id),
        rematch_pending=rematch_pending(event),
    )
    return EventDetail(**to_public(event, role=role).model_dump(), progress=progress)


def update_event(session: Session, event: Event, data: EventUpdate) -> Event:
    refuse_if_deleting(event)
    changes = data.model_dump(exclude_unset=True)
    tolerance_changed = "tolerance" in changes and changes["tolerance"] != event.tolerance
    closing = changes.pop("status", event.status) != event.status
    for required in ("bibs_enabled", "bib_search"):  # null means "as it is"
        if changes.get(required, True) is None:
            del changes[required]
    for required in ("watermark", "originals_downloadable", "zips_allowed"):
        if changes.get(required, True) is None:
            del changes[required]
    marked_before = (event.watermark, event.watermark_text, event.name)
    for field, value in changes.items():
        setattr(event, field, value)
    _check_bib_range(event)
    if (event.watermark, event.watermark_text, event.name) != marked_before and (
        event.watermark or marked_before[0]
    ):
        change_mark(session, event)
    if closing and event.status == EventStatus.open:
        close_event(session, event, actor="photographer")
    elif closing:
        event.status, event.closed_at = EventStatus.open, None
    session.add(event)
    if tolerance_changed:
        request_rematch(session, event)
    return event


def change_mark(session: Session, event: Event) -> None:
    """What its previews carry changed (a watermark on or off, another text or logo):
    previews are made again under a new `mark_version`, and a job deletes the old ones."""
    event.mark_version += 1
    session.add(event)
    defer(session, queue.sweep_previews(event.id))


def close_event(session: Session, event: Event, *, actor: str) -> None:
    """Close: no more uploads. It starts the retention clock for unmatched faces'
    encodings, and the opt-outs' encodings, kept to leave those people out of later
    uploads, go now."""
    event.status, event.closed_at = EventStatus.closed, utcnow()
    session.add(event)
    for opt_out_id in repository.forget_opt_out_encodings(session, event.id):
        erasure.record(session, Erased(opt_out_encodings=1), event_id=event.id,
                       subject_id=opt_out_id, actor=actor, reason=Reason.event_closed)  # fmt: skip


def rematch_pending(event: Event) -> bool:
    requested, done = event.rematch_requested_at, event.rematched_at
    return requested is not None and (done is None or done < requested)


def request_rematch(session: Session, event: Event) -> RematchAccepted:
    refuse_if_deleting(event)
    event.rematch_requested_at = utcnow()
    session.add(event)
    spec = queue.rematch_event(event.id)
    defer(session, spec)
    return RematchAccepted(
        event_id=event.id, job_id=spec.job_id, status_url=f"/api/events/{event.id}"
    )


def request_deletion(session: Session, event: Event, actor: str) -> DeletionAccepted:
    """Mark the event `deleting` (the caller holds its row FOR UPDATE, so uploads in flight
    are done, and later ones see the status), and enqueue its deletion. Asked again, the
    job is enqueued again: a deletion is resumed, never doubled (one job id per event)."""
    if event.status != EventStatus.deleting:
        event.status = EventStatus.deleting
        event.deletion_requested_at = utcnow()
        session.add(event)
        audit.record(session, AuditAction.event_deletion_requested, event_id=event.id,
                     subject_id=event.id, actor=actor, reason=None)  # fmt: skip
    spec = queue.delete_event(event.id)
    defer(session, spec)
    return DeletionAccepted(event_id=event.id, job_id=spec.job_id, status=event.status,
                            status_url=f"/api/events/{event.id}")  # fmt: skip


def hand_over(session: Session, event: Event, email: str) -> Event:
    """Give the event to another photographer or admin, as when a studio's photographer
    leaves: its photos and attendees stay, and its old owner's account can then go."""
    refuse_if_deleting(event)
    owner = get_user_by_email(session, email.lower())
    if owner is None:
        raise NotFound("no account has this email", code="user_not_found")
    if owner.role == Role.attendee or not owner.is_active:
        raise Conflict("events go to an active photographer or admin", code="not_staff")
    event.owner_id = owner.id
    session.add(event)
    return event
